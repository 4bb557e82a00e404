"""datatrove step: JsonlReader -> CleanerStep -> JsonlWriter under LocalPipelineExecutor, 2 workers."""

import gzip
import json
import pickle
from pathlib import Path

import pytest

from cleaner import Edit, apply_edits, revert_edits

pytest.importorskip("datatrove")
from datatrove.data import Document  # noqa: E402

from cleaner.integrations.datatrove import CleanerStep  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEMO = str(ROOT / "tests" / "fixtures" / "demo.tsv")
SPUN = "Rights teams warn about local weather change and compelled labor in the final month."
CLEAN = "The committee met on Tuesday and approved the budget for next year."


def step(**kw) -> CleanerStep:
    return CleanerStep(stages=("tables", "mt"), tables=[DEMO], **kw)


def test_pipeline_under_local_executor_with_two_workers(tmp_path):
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    src = tmp_path / "in"
    src.mkdir()
    texts = {}
    for f in range(4):  # one file per task
        with open(src / f"{f}.jsonl", "w") as fh:
            for i in range(10):
                doc_id = f"{f}-{i}"
                texts[doc_id] = SPUN if i % 3 == 0 else CLEAN
                fh.write(json.dumps({"id": doc_id, "text": texts[doc_id], "lang": "en"}) + "\n")
    out = tmp_path / "out"
    LocalPipelineExecutor([JsonlReader(str(src)), step(), JsonlWriter(str(out))], tasks=4, workers=2,
                          logging_dir=str(tmp_path / "logs")).run()
    docs = []
    for p in sorted(out.glob("*.jsonl.gz")):
        docs.extend(json.loads(x) for x in gzip.decompress(p.read_bytes()).splitlines())
    assert sorted(d["id"] for d in docs) == sorted(texts)                  # every document exactly once
    for d in docs:
        meta = d["metadata"]["cleaner"]
        original = texts[d["id"]]
        edits = [Edit.from_dict(e) for e in meta["edits"]]
        assert apply_edits(original, edits) == d["text"] and revert_edits(d["text"], edits) == original
        assert d["metadata"]["lang"] == "en"                                # other metadata kept
        if original == SPUN:
            assert d["text"] == "Rights groups warn about climate change and forced labor in the last month."
            assert meta["edit_count"] == 4 and meta["spin_score"] > 0.5
        else:
            assert d["text"] == CLEAN and meta == {"spin_score": 0.0, "edit_count": 0, "edits": []}
    stats = json.loads((tmp_path / "logs" / "stats.json").read_text())
    mine = next(s for s in stats if s["name"].endswith("cleaner"))
    assert mine["stats"]["documents"] == 40 and mine["stats"]["changed"] == 16


def test_pickles_without_models_and_loads_once_per_process():
    s = step()
    before = len(pickle.dumps(s))
    list(s.run([Document(SPUN, "a")]))
    assert len(pickle.dumps(s)) < before + 2000      # the loaded Cleaner does not travel with the step
    task2 = pickle.loads(pickle.dumps(s))               # a second task in the same worker process
    assert task2.cleaner is s.cleaner
    assert step(mode="flag").cleaner is s.cleaner       # mode does not change the models
    assert step(min_score=0.5).cleaner is not s.cleaner


def test_flag_mode_min_score_and_metadata_options():
    (d,) = step(mode="flag").run([Document(SPUN, "a")])
    assert d.text == SPUN and d.metadata["cleaner"]["edit_count"] == 4
    (d,) = step(min_score=0.99, keep_edits=False, metadata_key="spin").run([Document(SPUN, "a")])
    assert d.text == SPUN and d.metadata["spin"]["edit_count"] == 0 and "edits" not in d.metadata["spin"]
    with pytest.raises(ValueError):
        step(mode="repair")


def test_fix_encoding_in_the_step():
    text = "Caf\u00c3\u00a9 owners fear local weather change."
    (d,) = step(fix_encoding=True).run([Document(text, "m")])
    assert d.text == "Caf\u00e9 owners fear climate change."
    edits = [Edit.from_dict(e) for e in d.metadata["cleaner"]["edits"]]
    assert {e.kind for e in edits} == {"encoding", "spin"} and revert_edits(d.text, edits) == text
