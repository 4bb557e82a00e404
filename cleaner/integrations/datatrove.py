"""datatrove step: clean `Document.text` and keep the edits in `Document.metadata`.

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from cleaner.integrations.datatrove import CleanerStep

    LocalPipelineExecutor([JsonlReader("in/"), CleanerStep(), JsonlWriter("out/")], tasks=8, workers=2).run()

The step pickles without its models (only its options travel to the workers); each worker
process builds the Cleaner on first use and keeps it in a per-process cache, so the models load
once per process however many tasks the process runs.
"""

from __future__ import annotations

from itertools import islice

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from ..batch import DocCleaner, check_gate, one_torch_thread

_CACHE: dict[tuple, DocCleaner] = {}


class CleanerStep(PipelineStep):
    """Restore spun phrases in each document.

    mode: "fix" rewrites `doc.text`; "flag" leaves it and only annotates.
    metadata_key: the metadata entry that receives `{"spin_score", "edit_count", "edits"}`
    (`edits` are the public edit objects, offsets into the text as read; `keep_edits=False`
    drops them and keeps only the two numbers). gate: "auto" (default: the lexical gate or a
    tables-and-rules spin score >= 0.3 sends a document to the neural stages), "off"/None (every
    document), or a spin-score threshold; gate_threshold overrides the lexical threshold. Other
    options as in `cleaner clean`. With neural stages the stat `neural` counts routed documents.
    """

    name = "cleaner"
    type = "✂️ - FORMAT"

    def __init__(self, config=None, stages: tuple[str, ...] | None = None, tables: list[str] | None = None,
                 mode: str = "fix", min_score: float = 0.0, fix_encoding: bool = False,
                 gate: float | str | None = "auto", gate_threshold: float | None = None,
                 metadata_key: str = "cleaner", keep_edits: bool = True, batch_size: int = 16):
        super().__init__()
        if mode not in ("fix", "flag"):
            raise ValueError(f"mode must be 'fix' or 'flag', got {mode!r}")
        self.config, self.stages = config, tuple(stages) if stages is not None else None
        self.tables = list(tables) if tables is not None else None
        check_gate(gate)  # fail when the pipeline is built, not in every task
        self.mode, self.min_score, self.fix_encoding, self.gate = mode, min_score, fix_encoding, gate
        self.gate_threshold = gate_threshold
        self.metadata_key, self.keep_edits, self.batch_size = metadata_key, keep_edits, batch_size

    def _key(self) -> tuple:
        import pickle
        return (pickle.dumps(self.config), self.stages, tuple(self.tables) if self.tables is not None else None,
                self.min_score, self.fix_encoding, self.gate, self.gate_threshold)

    @property
    def cleaner(self) -> DocCleaner:
        key = self._key()
        if key not in _CACHE:
            dc = DocCleaner(self.config, stages=self.stages, tables=self.tables, min_score=self.min_score,
                            fix_encoding=self.fix_encoding, gate=self.gate, gate_threshold=self.gate_threshold)
            for notice in dc.notices:  # e.g. models/gate missing: once per process
                from loguru import logger
                logger.warning(f"cleaner: {notice}")
            if dc.neural:
                one_torch_thread()  # one task per core; torch itself loads only if a document is routed
            _CACHE[key] = dc
        return _CACHE[key]

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data is None:
            return
        cleaner = self.cleaner
        data = iter(data)
        while batch := list(islice(data, self.batch_size)):
            with self.track_time("batch"):
                results = cleaner.clean([doc.text for doc in batch])
            for doc, c in zip(batch, results):
                applied = sum(e.applied for e in c.edits)
                meta = {"spin_score": round(c.spin_score, 4), "edit_count": applied}
                if self.keep_edits:
                    meta["edits"] = [e.to_dict() for e in c.edits]
                doc.metadata[self.metadata_key] = meta
                self.stat_update("documents")
                if c.neural:
                    self.stat_update("neural")
                if applied and self.mode == "fix":
                    doc.text = c.text
                    self.stat_update("changed")
                self.stat_update("edits_applied", value=applied)
                self.stat_update("edits_suggested", value=len(c.edits) - applied)
                self.update_doc_stats(doc)
                yield doc
