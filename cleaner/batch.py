"""`cleaner clean`: corpus-scale streaming cleaning with resumable, atomically committed shards.

The input stream (all records of all inputs, in order) is cut into shards of `--shard-docs`
records or `--shard-mb` megabytes, whichever comes first. A shard is cleaned by one worker, which
writes its output, edit-log and reject files atomically and then a `.done.json` marker holding the
shard's statistics; only a shard with a marker counts as committed. `--resume` re-reads the input,
skips committed shards and redoes the rest, so an interrupted run (Ctrl-C, SIGTERM, SIGKILL) ends
with every record exactly once. Shards are numbered by input position, so the output keeps the
input order however many workers finish in whatever order. Memory is bounded by the shard size
times the shards in flight (2 per worker).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sys
import time
from collections import Counter
from typing import NamedTuple

from . import corpus_io
from .corpus_io import Rec
from .textio import InputError, decode

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 2, 130
HIST_BINS = 10
SCORE_FIELD, COUNT_FIELD = "cleaner_spin_score", "cleaner_edit_count"
STATE_VERSION = 1
MAX_ERRORS_KEPT = 1000
MAX_ERRORS_SHOWN = 20


class BatchError(Exception):
    """A problem with the command itself (arguments, output exists, resume mismatch)."""


class AlreadyComplete(Exception):
    pass


def _err(msg: str) -> None:
    print(f"cleaner: {msg}", file=sys.stderr, flush=True)


# -- command line -----------------------------------------------------------------------------
def add_arguments(p: argparse.ArgumentParser) -> None:
    from .cli import _add_common
    _add_common(p)
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                   help="output file (.jsonl, .jsonl.gz, .jsonl.zst, .parquet) or folder of shards")
    p.add_argument("--format", choices=corpus_io.FORMATS, help="shard format when OUTPUT is a folder "
                   "(default: the first input's format; jsonl.gz for text folders)")
    p.add_argument("--field", default="text", help="text field to clean (default: text)")
    p.add_argument("--id-field", default="id", help="document id field for the edit log (default: id)")
    p.add_argument("--out-field", help="write the cleaned text here instead of over --field")
    p.add_argument("--mode", choices=("fix", "flag"), default="fix",
                   help="fix: write cleaned text; flag: leave text, only add the score and edit count")
    p.add_argument("--min-score", type=float, default=0.0, metavar="S",
                   help="apply edits only in documents with spin score >= S (others are left unchanged)")
    p.add_argument("--fix-encoding", action="store_true", help="repair mojibake with ftfy first (kind 'encoding')")
    p.add_argument("--gate", type=parse_gate, default="auto", metavar="auto|off|S",
                   help="which documents get the neural stages: auto (default) = the lexical gate "
                   f"(models/gate) fires or the tables-and-rules spin score is >= {GATE_SCORE}; off = every "
                   "document; a number S = only documents whose tables-and-rules spin score is >= S")
    p.add_argument("--no-gate", dest="gate", action="store_const", const="off",
                   help="same as --gate off: every document goes through the neural stages (slow)")
    p.add_argument("--gate-threshold", type=float, metavar="T",
                   help="lexical gate threshold for --gate auto (default: models/gate/gate.json; lower "
                   "routes more documents)")
    p.add_argument("--edit-log", metavar="FILE", help="edit log, JSONL (default: OUTPUT.edits.jsonl; '' for none)")
    p.add_argument("--summary", metavar="FILE", help="run summary JSON (default: OUTPUT.summary.json)")
    p.add_argument("--report", metavar="FILE", help="HTML run report (default: OUTPUT.report.html)")
    p.add_argument("--rejects", metavar="FILE", help="write bad records here instead of passing them through")
    p.add_argument("--workers", type=int, default=1, help="worker processes, each loads the models once (default 1)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run of the same command")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output and discard any unfinished run")
    p.add_argument("--shard-docs", type=int, default=1000, help="records per committed shard (default 1000)")
    p.add_argument("--shard-mb", type=float, default=8.0, help="max input MB per shard (default 8)")
    p.add_argument("--progress", choices=("auto", "bar", "log", "none"), default="auto",
                   help="progress bar on a terminal, log lines otherwise (auto)")
    p.add_argument("--log-every", type=float, default=10.0, metavar="SEC", help="seconds between progress log lines")


def parse_gate(value: str):
    """`--gate`: "auto", "off", or a spin-score threshold in [0, 1]."""
    v = value.strip().lower()
    if v in ("auto", "off"):
        return v
    try:
        score = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, off or a score in [0, 1], got {value!r}") from None
    if not 0.0 <= score <= 1.0:
        raise argparse.ArgumentTypeError(f"a gate score must be in [0, 1], got {value!r}")
    return score


def run(args) -> int:
    try:
        job = Job.from_args(args)
        return job.run()
    except AlreadyComplete as done:
        _err(str(done))
        return EXIT_OK
    except (BatchError, InputError, FileNotFoundError, ValueError) as err:
        _err(str(err))
        return EXIT_ERROR


# -- per-document work (runs in workers) --------------------------------------------------------
class Cleaned(NamedTuple):
    text: str            # the cleaned text (edits applied)
    edits: list          # list[Edit], offsets into the input text
    spin_score: float
    neural: bool = False  # went through the neural stages (detector/rewriter configured and gate passed)


GATE_SCORE = 0.3  # --gate auto also routes documents whose tables-and-rules spin score reaches this


def check_gate(gate):
    """A gate value for DocCleaner and the datatrove step: "auto", "off" (also None) or a score."""
    if gate is None:
        return "off"
    if gate in ("auto", "off") or isinstance(gate, (int, float)):
        return gate
    raise ValueError(f"gate must be 'auto', 'off', None or a score, got {gate!r}")


class DocCleaner:
    """A Cleaner with the batch options (--fix-encoding, --gate, --min-score); one per process.

    Shared by the `clean` workers and the datatrove step. With neural stages configured, `gate`
    decides which documents get them; the others keep the tables-and-rules result:
      "auto" (default)  the lexical gate (cleaner/gate.py, models/gate/) fires, or the
                        tables-and-rules spin score is >= GATE_SCORE. Without models/gate/ a
                        notice says so (in `notices`) and every document gets the neural stages.
      "off" or None     every document gets the neural stages.
      a number S        only documents whose tables-and-rules spin score is >= S (no lexical gate).
    `gate_threshold` overrides the lexical threshold of models/gate/gate.json. Without neural
    stages (`--fast`) the gate is never loaded and nothing changes.
    """

    def __init__(self, config=None, stages=None, tables=None, *, min_score: float = 0.0,
                 fix_encoding: bool = False, gate: float | str | None = "auto",
                 gate_threshold: float | None = None):
        from .pipeline import MODEL_STAGES, Cleaner
        self.cleaner = Cleaner(config, stages=stages, tables=tables)
        self.min_score, self.fix_encoding = min_score, fix_encoding
        self.gate = check_gate(gate)
        self.notices: list[str] = []
        self.neural = any(s in self.cleaner.stages for s in MODEL_STAGES)
        self.fast = self.lexical = None
        self.gate_threshold = gate_threshold
        if self.neural and self.gate == "auto":
            from .gate import load_gate
            self.lexical, why = load_gate(self.cleaner.config.models_dir)
            if self.lexical is None:
                self.notices.append(f"{why}; every document goes through the neural stages "
                                    f"(--gate S gates on the spin score alone)")
            elif gate_threshold is None:
                self.gate_threshold = self.lexical.threshold
        if self.neural and (self.lexical is not None or isinstance(self.gate, (int, float))):
            self.fast = self.cleaner.with_stages(("tables", "mt"))

    def route(self, text: str, fast_spin_score: float) -> bool:
        """Does this document (with this tables-and-rules spin score) go to the neural stages?"""
        if self.fast is None:
            return self.neural
        if self.lexical is None:
            return fast_spin_score >= self.gate
        return fast_spin_score >= GATE_SCORE or self.lexical.score(text) >= self.gate_threshold

    def _results(self, texts: list[str]) -> tuple[list, list[bool]]:
        if self.fast is None:
            return self.cleaner.clean_batch(texts), [self.neural] * len(texts)
        results = self.fast.clean_batch(texts)
        routed = [self.route(t, r.spin_score) for t, r in zip(texts, results)]
        todo = [i for i, x in enumerate(routed) if x]
        if todo:
            for i, r in zip(todo, self.cleaner.clean_batch([texts[i] for i in todo])):
                results[i] = r
        return results, routed

    def clean(self, texts: list[str]) -> list[Cleaned]:
        from .edits import apply_edits
        from .encoding import compose, repair
        fixed, enc = list(texts), [[] for _ in texts]
        if self.fix_encoding:
            for i, t in enumerate(texts):
                fixed[i], enc[i] = repair(t)
        out = []
        results, routed = self._results(fixed)
        for text, f, e, r, neural in zip(texts, fixed, enc, results, routed):
            edits = list(r.edits)
            if r.spin_score < self.min_score:
                for x in edits:
                    if x.applied:
                        x.applied = False
                        x.reason = f"{x.reason}; document spin {r.spin_score:.2f} below --min-score {self.min_score}"
            edits = compose(text, e, f, edits)
            out.append(Cleaned(apply_edits(text, edits), edits, r.spin_score, neural))
        return out


class Worker:
    """Loads the cleaner(s) once; cleans one shard and commits its files."""

    def __init__(self, opts: dict):
        self.opts = opts
        self.doc = DocCleaner(opts["config"], min_score=opts["min_score"], fix_encoding=opts["fix_encoding"],
                              gate=opts.get("gate", "auto"), gate_threshold=opts.get("gate_threshold"))

    def process(self, index: int, recs: list[Rec]) -> dict:
        o = self.opts
        field, out_field = o["field"], o["out_field"] or o["field"]
        st = new_stats()
        rows: list = []          # output rows, in input order
        log: list[bytes] = []
        rejects: list[bytes] = []
        pending: list[tuple[int, Rec, dict, str]] = []
        for rec in recs:
            size = len(rec.payload) if isinstance(rec.payload, bytes) else len(str(rec.payload.get(field, "")).encode())
            st["documents"] += 1
            st["bytes"] += size
            row, text, error = _parse(rec, field, o["id_field"])
            if error:
                _bad(st, rec, error)
                if o["rejects"] or not _passable(rec, row, o["format"]):
                    rejects.append(corpus_io.dumps(_reject(rec, error)))
                    st["rejected"] += 1
                else:
                    rows.append(rec.payload)  # unchanged: the raw line, or the Parquet row
                    st["passed_through"] += 1
                continue
            rows.append(None)
            pending.append((len(rows) - 1, rec, row, text))
        batch = o.get("batch", 16)
        for k in range(0, len(pending), batch):
            chunk = pending[k:k + batch]
            for (pos, rec, row, text), c in zip(chunk, self.doc.clean([t for _, _, _, t in chunk])):
                rows[pos], rec_log = self._finish(rec, row, text, c, field, out_field, st)
                if rec_log:
                    log.append(corpus_io.dumps(rec_log))
        return self._commit(index, rows, log, rejects, st)

    def _finish(self, rec: Rec, row: dict, text: str, c: Cleaned, field, out_field, st):
        o = self.opts
        edits, new = c.edits, c.text
        applied = [e for e in edits if e.applied]
        if o["mode"] == "fix":
            row[out_field] = new
        elif out_field != field:
            row[out_field] = text
        row[SCORE_FIELD] = round(c.spin_score, 4)
        row[COUNT_FIELD] = len(applied)
        st["changed"] += new != text
        st["neural"] += c.neural
        st["hist"][min(HIST_BINS - 1, int(c.spin_score * HIST_BINS))] += 1
        for e in edits:
            st["edits"] += 1
            st["applied" if e.applied else "suggested"] += 1
            st["by_kind"][e.kind] += 1
            st["by_source"][_source_group(e.source)] += 1
            if e.applied:
                st["phrases"][f"{e.before}\t{e.after}"] += 1
        if not edits:
            return row, None
        st["with_edits"] += 1
        doc_id = row.get(o["id_field"]) if isinstance(row.get(o["id_field"]), (str, int)) else None
        return row, {"doc_id": str(doc_id) if doc_id is not None else f"{rec.source}:{rec.line}",
                     "source": rec.source, "line": rec.line, "spin_score": round(c.spin_score, 4),
                     "edits": [e.to_dict() for e in edits]}

    def _commit(self, index: int, rows, log, rejects, st) -> dict:
        o = self.opts
        paths = shard_paths(o["layout"], index)
        _trim(st)
        corpus_io.write_atomic(paths["data"], corpus_io.encode_rows(rows, o["format"]))
        for key, lines in (("log", log), ("rejects", rejects)):
            if lines:
                corpus_io.write_atomic(paths[key], b"".join(lines))
            elif os.path.exists(paths[key]):
                os.unlink(paths[key])
        st["shard"] = index
        corpus_io.write_atomic(paths["done"], json.dumps(st, ensure_ascii=False).encode("utf-8"))
        return st


def _parse(rec: Rec, field: str, id_field: str) -> tuple[dict | None, str | None, str | None]:
    """(row, text, error) for one record; a row without a usable text field is an error."""
    p = rec.payload
    if isinstance(p, dict):
        row = dict(p)
    elif corpus_io.kind_of(rec.source) == "text":
        try:
            text = decode(p, rec.source).text
        except InputError as err:
            return None, None, str(err).removeprefix(f"{rec.source}: ").removesuffix("; file left untouched")
        return {id_field: rec.source, field: text}, text, None
    else:
        try:
            s = p.decode("utf-8")
        except UnicodeDecodeError as err:
            return None, None, f"invalid UTF-8 at byte {err.start}"
        try:
            row = json.loads(s)
        except ValueError as err:
            return None, None, f"invalid JSON ({err})"
        if not isinstance(row, dict):
            return None, None, "not a JSON object"
    if field not in row:
        return row, None, f"missing field {field!r}"
    if not isinstance(row[field], str):
        return row, None, f"field {field!r} is {type(row[field]).__name__}, not a string"
    return row, row[field], None


def _passable(rec: Rec, row, fmt: str) -> bool:
    """A bad record can go to the output unchanged: a raw JSONL line to JSONL, or a Parquet row."""
    if isinstance(rec.payload, dict):
        return True
    return corpus_io.kind_of(rec.source) == "jsonl" and fmt != "parquet"


def _reject(rec: Rec, error: str) -> dict:
    raw = rec.payload
    if isinstance(raw, bytes):
        # surrogateescape keeps invalid bytes recoverable: raw.encode("utf-8", "surrogateescape")
        raw = raw.decode("utf-8", "surrogateescape")
    return {"source": rec.source, "line": rec.line, "error": error, "raw": raw}


def _bad(st: dict, rec: Rec, error: str) -> None:
    st["bad"] += 1
    st["errors_by_type"][error.split(" (")[0].split(" at byte")[0]] += 1
    if len(st["errors"]) < MAX_ERRORS_KEPT:
        st["errors"].append({"source": rec.source, "line": rec.line, "error": error})


def _source_group(source: str) -> str:
    """`table:news-spinner:local weather change` -> `table:news-spinner`; rules and models as they are."""
    return ":".join(source.split(":")[:2]) if source.startswith(("table:", "user:")) else source


# -- statistics -------------------------------------------------------------------------------
def new_stats() -> dict:
    return {"documents": 0, "bytes": 0, "changed": 0, "with_edits": 0, "neural": 0, "bad": 0, "passed_through": 0,
            "rejected": 0, "edits": 0, "applied": 0, "suggested": 0, "by_kind": Counter(), "by_source": Counter(),
            "hist": [0] * HIST_BINS, "phrases": Counter(), "errors": [], "errors_by_type": Counter()}


def merge_stats(total: dict, st: dict) -> dict:
    for k, v in st.items():
        if k in ("shard",):
            continue
        if k == "hist":
            total[k] = [a + b for a, b in zip(total[k], v)]
        elif k == "errors":
            total[k].extend(v[: MAX_ERRORS_KEPT - len(total[k])])
        elif isinstance(total.get(k), Counter):
            total[k].update(v)
        else:
            total[k] = total.get(k, 0) + v
    if len(total["phrases"]) > 20000:  # bounded memory on endless rewriter outputs; top list stays exact enough
        total["phrases"] = Counter(dict(total["phrases"].most_common(5000)))
    return total


def _trim(st: dict) -> None:
    if len(st["phrases"]) > 5000:
        st["phrases"] = Counter(dict(st["phrases"].most_common(5000)))


# -- output layout and run state ----------------------------------------------------------------
def layout_for(output: str, fmt: str | None) -> dict:
    single = corpus_io.format_of(output)
    if single:
        state = output + ".parts"
        return {"single": True, "output": output, "state": state, "data_dir": state, "format": single}
    return {"single": False, "output": output, "state": os.path.join(output, ".cleaner-state"),
            "data_dir": output, "format": fmt}


def shard_paths(layout: dict, index: int) -> dict:
    name = f"part-{index:05d}"
    st = layout["state"]
    return {"data": os.path.join(layout["data_dir"], f"{name}.{layout['format']}"),
            "log": os.path.join(st, f"{name}.edits.jsonl"), "rejects": os.path.join(st, f"{name}.rejects.jsonl"),
            "done": os.path.join(st, f"{name}.done.json")}


def _default_format(files: list[str]) -> str:
    for f in files:
        if corpus_io.kind_of(f) == "parquet":
            return "parquet"
        if corpus_io.kind_of(f) == "jsonl":
            return "jsonl" + (".gz" if f.endswith(".gz") else ".zst" if f.endswith(".zst") else "")
    return "jsonl.gz"


_worker: Worker | None = None


def one_torch_thread() -> None:
    """N workers on N cores: one torch thread each. torch is not imported here (that costs seconds
    and ~200 MB per process, wasted when the gate routes no document): OMP_NUM_THREADS=1 makes
    torch start with one thread whenever a neural stage first loads; if torch is loaded already,
    set it directly."""
    os.environ["OMP_NUM_THREADS"] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _init_worker(opts: dict, parent: int | None = None) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    _die_with_parent()
    parent = parent or os.getppid()
    # The parent may have been killed while this worker was starting, before the death signal was
    # armed: such a worker would wait forever on a pool lock held by a killed sibling.
    if os.getppid() != parent:
        os._exit(1)
    from .pipeline import MODEL_STAGES
    if any(s in opts["config"].stages for s in MODEL_STAGES):
        one_torch_thread()
    _worker = Worker(opts)
    _worker.parent = parent


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when the parent dies, so a killed run leaves no orphan that could
    commit a shard while a resumed run works on it (the getppid check below covers other systems)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _work(index: int, recs: list[Rec]) -> dict:
    if os.getppid() != _worker.parent:  # parent was killed: do not race its resumed successor
        os._exit(1)
    return _worker.process(index, recs)


class Job:
    def __init__(self, args, cfg, files: list[str], layout: dict):
        self.args, self.cfg, self.files, self.layout = args, cfg, files, layout
        out = layout["output"].rstrip("/")

        def default(v, suffix, folder_name):
            if v == "":
                return None
            return v or (out + suffix if layout["single"] else os.path.join(out, folder_name))
        self.edit_log = default(args.edit_log, ".edits.jsonl", "edits.jsonl")
        self.summary_path = default(args.summary, ".summary.json", "summary.json")
        self.report_path = default(args.report, ".report.html", "report.html")
        self.rejects_path = args.rejects or (out + ".rejects.jsonl" if layout["single"] else os.path.join(out, "rejects.jsonl"))
        self.opts = {"config": cfg, "field": args.field, "id_field": args.id_field, "out_field": args.out_field,
                     "mode": args.mode, "min_score": args.min_score, "fix_encoding": args.fix_encoding,
                     "gate": args.gate, "gate_threshold": args.gate_threshold, "rejects": bool(args.rejects),
                     "format": layout["format"], "layout": layout}

    @classmethod
    def from_args(cls, args) -> "Job":
        from .cli import _config
        if not args.paths:
            raise BatchError("clean: give at least one INPUT (file, folder, or '-')")
        if args.workers < 1 or args.shard_docs < 1 or args.shard_mb <= 0:
            raise BatchError("--workers, --shard-docs and --shard-mb must be positive")
        if not 0.0 <= args.min_score <= 1.0:
            raise BatchError("--min-score takes a score in [0, 1]")
        gate = getattr(args, "gate", "auto")
        if gate is None:
            args.gate = "off"
        elif isinstance(gate, str):
            args.gate = parse_gate(gate)  # a Namespace built in code may hold a plain string
        if not hasattr(args, "gate_threshold"):
            args.gate_threshold = None
        cfg = _config(args)
        from .pipeline import MODEL_STAGES, Cleaner
        Cleaner(cfg)  # fail here on a bad table, not in every worker (models load lazily, not here)
        if args.gate == "auto" and any(s in cfg.stages for s in MODEL_STAGES):
            from .gate import load_gate
            lexical, why = load_gate(cfg.models_dir)  # once, here: the workers stay quiet
            if lexical is None:
                _err(f"{why}; every document goes through the neural stages (--gate S gates on the spin score alone)")
        layout = layout_for(args.output, None)
        if not layout["single"] and os.path.exists(args.output) and not os.path.isdir(args.output):
            raise BatchError(f"{args.output}: not a folder, and its name is not a known output format")
        files = corpus_io.expand_inputs(args.paths, cfg.included, skip=[args.output, layout["state"]])
        if not files:
            raise BatchError("clean: no input files found")
        out_real = os.path.realpath(args.output)
        if any(f != "-" and os.path.realpath(f) == out_real for f in files):
            raise BatchError(f"{args.output}: output is also an input")
        if not layout["single"]:
            layout["format"] = args.format or _default_format(files)
        elif args.format and args.format != layout["format"]:
            raise BatchError(f"--format {args.format} contradicts the output name {args.output}")
        return cls(args, cfg, files, layout)

    # -- state --------------------------------------------------------------------------------
    def fingerprint(self) -> dict:
        a = self.args
        cfg = dict(vars(self.cfg))
        cfg.pop("source", None)
        return {"version": STATE_VERSION, "field": a.field, "id_field": a.id_field, "out_field": a.out_field,
                "mode": a.mode, "min_score": a.min_score, "fix_encoding": a.fix_encoding, "gate": a.gate,
                "gate_threshold": a.gate_threshold,
                "rejects": bool(a.rejects), "format": self.layout["format"], "shard_docs": a.shard_docs,
                "shard_mb": a.shard_mb, "config": json.loads(json.dumps(cfg, default=list)),
                "inputs": [{"path": f, "size": os.path.getsize(f) if f != "-" else None,
                            "mtime": int(os.path.getmtime(f)) if f != "-" else None} for f in self.files]}

    def prepare_state(self) -> set[int]:
        """Create or check the run state; return the committed shard indexes."""
        a, lay = self.args, self.layout
        state, manifest = lay["state"], os.path.join(lay["state"], "manifest.json")
        fp = self.fingerprint()
        have_state = os.path.exists(manifest)
        out_exists = os.path.exists(lay["output"]) and (lay["single"] or any(
            n != ".cleaner-state" for n in os.listdir(lay["output"])))
        if a.overwrite:
            shutil.rmtree(state, ignore_errors=True)
            if lay["single"] and os.path.exists(lay["output"]):
                os.unlink(lay["output"])
            elif not lay["single"] and os.path.isdir(lay["output"]):
                for n in os.listdir(lay["output"]):
                    if n.startswith("part-") or n in ("edits.jsonl", "summary.json", "report.html", "rejects.jsonl"):
                        os.unlink(os.path.join(lay["output"], n))
            have_state = out_exists = False
        if have_state:
            if not a.resume:
                raise BatchError(f"an unfinished run left {state}; re-run with --resume to continue "
                                 f"or --overwrite to start over")
            with open(manifest, encoding="utf-8") as f:
                old = json.load(f)
            diff = sorted(k for k in set(old) | set(fp) if old.get(k) != fp.get(k))
            if diff:
                raise BatchError(f"--resume: the command or inputs differ from the interrupted run "
                                 f"({', '.join(diff)}); use --overwrite to start over")
            for n in os.listdir(state):  # temp files of a killed run
                if n.startswith(".") and n.endswith(".tmp"):
                    os.unlink(os.path.join(state, n))
            if not lay["single"]:
                for n in os.listdir(lay["data_dir"]):
                    if n.startswith(".part-") and n.endswith(".tmp"):
                        os.unlink(os.path.join(lay["data_dir"], n))
            return {int(n[5:10]) for n in os.listdir(state) if n.startswith("part-") and n.endswith(".done.json")}
        if out_exists:
            if a.resume and self.summary_path and os.path.exists(self.summary_path):
                raise AlreadyComplete(f"{lay['output']}: already complete ({self.summary_path}); nothing to resume")
            if a.resume:
                raise BatchError(f"{lay['output']}: exists and no unfinished run to resume (already complete?)")
            raise BatchError(f"{lay['output']}: exists; use --overwrite to replace it")
        os.makedirs(state, exist_ok=True)
        corpus_io.write_atomic(manifest, json.dumps(fp, indent=1).encode("utf-8"))
        return set()

    # -- main loop ------------------------------------------------------------------------------
    def shards(self, stream):
        """(index, records) in input order; boundaries depend only on the input and shard options."""
        limit_docs, limit_bytes = self.args.shard_docs, int(self.args.shard_mb * 1e6)
        buf, size, index = [], 0, 0
        for rec in stream:
            buf.append(rec)
            size += len(rec.payload) if isinstance(rec.payload, bytes) else 256
            if len(buf) >= limit_docs or size >= limit_bytes:
                yield index, buf
                buf, size, index = [], 0, index + 1
        if buf or index == 0:
            yield index, buf

    def run(self) -> int:
        done = self.prepare_state()
        total = new_stats()
        for i in sorted(done):
            with open(shard_paths(self.layout, i)["done"], encoding="utf-8") as f:
                merge_stats(total, _load_stats(json.load(f)))
        resumed_docs = total["documents"]
        stream = corpus_io.InputStream(self.files)
        progress = Progress(self.args.progress, self.args.log_every, stream)
        t0 = time.time()
        shown = [0]

        def collect(st: dict) -> None:
            merge_stats(total, _load_stats(st))
            for e in st["errors"]:
                if shown[0] < MAX_ERRORS_SHOWN:
                    _err(f"{e['source']}:{e['line']}: {e['error']}")
                shown[0] += 1
            progress.update(st["documents"], st["bytes"])

        stop = _Stop(raise_now=self.args.workers == 1)
        old_int, old_term = signal.signal(signal.SIGINT, stop), signal.signal(signal.SIGTERM, stop)
        n_shards = 0
        try:
            if self.args.workers == 1:
                worker = Worker(self.opts)
                for index, recs in self.shards(stream):
                    n_shards = index + 1
                    if index in done:
                        progress.skip(len(recs))
                        continue
                    collect(worker.process(index, recs))
            else:
                n_shards = self._run_pool(stream, done, collect, progress, stop)
        except KeyboardInterrupt:
            progress.close()
            _err(f"interrupted: {total['documents']} documents committed in {self.layout['state']}; "
                 f"re-run the same command with --resume to continue")
            return EXIT_INTERRUPTED
        finally:
            signal.signal(signal.SIGINT, old_int)
            signal.signal(signal.SIGTERM, old_term)
        progress.close()
        elapsed = time.time() - t0
        if shown[0] > MAX_ERRORS_SHOWN:
            _err(f"... {shown[0] - MAX_ERRORS_SHOWN} more bad records (see the summary"
                 f"{' and ' + self.rejects_path if total['rejected'] else ''})")
        self.finish(n_shards, total, elapsed, resumed_docs)
        return EXIT_OK

    def _run_pool(self, stream, done, collect, progress, stop) -> int:
        import multiprocessing as mp
        import queue
        ctx = mp.get_context("spawn")
        results: queue.Queue = queue.Queue()
        inflight = 0
        n = 0
        pool = ctx.Pool(self.args.workers, initializer=_init_worker, initargs=(self.opts, os.getpid()))
        try:
            def drain(block: bool) -> None:
                nonlocal inflight
                while inflight:
                    stop.check()
                    try:
                        ok, val = results.get(timeout=0.5 if block else 0)
                    except queue.Empty:
                        progress.tick()
                        if block:
                            continue
                        return
                    inflight -= 1
                    if not ok:
                        raise val
                    collect(val)
                    if block:
                        return
            for index, recs in self.shards(stream):
                stop.check()
                n = index + 1
                if index in done:
                    progress.skip(len(recs))
                    continue
                while inflight >= 2 * self.args.workers:
                    drain(True)
                pool.apply_async(_work, (index, recs), callback=lambda v: results.put((True, v)),
                                 error_callback=lambda e: results.put((False, e)))
                inflight += 1
                drain(False)
            while inflight:
                drain(True)
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
        return n

    def finish(self, n_shards: int, total: dict, elapsed: float, resumed_docs: int) -> None:
        from . import report
        lay = self.layout
        paths = [shard_paths(lay, i) for i in range(n_shards)]
        missing = [p["done"] for p in paths if not os.path.exists(p["done"])]
        if missing:
            raise BatchError(f"internal: {len(missing)} shards not committed (first: {missing[0]})")
        if lay["single"]:
            corpus_io.concat_files([p["data"] for p in paths], lay["output"], lay["format"])
        if self.edit_log:
            corpus_io.concat_files([p["log"] for p in paths if os.path.exists(p["log"])], self.edit_log)
        rej = [p["rejects"] for p in paths if os.path.exists(p["rejects"])]
        if rej:
            corpus_io.concat_files(rej, self.rejects_path)
        summary = report.summary(total, command=shlex.join(["cleaner", *sys.argv[1:]]), inputs=self.files, output=lay["output"],
                                 edit_log=self.edit_log, rejects=self.rejects_path if rej else None,
                                 elapsed=elapsed, resumed_docs=resumed_docs, workers=self.args.workers,
                                 stages=list(self.cfg.stages), mode=self.args.mode, gate=self._gate_label())
        if self.summary_path:
            corpus_io.write_atomic(self.summary_path, (json.dumps(summary, indent=1, ensure_ascii=False) + "\n").encode())
        if self.report_path:
            corpus_io.write_atomic(self.report_path, report.html(summary).encode("utf-8"))
        shutil.rmtree(lay["state"], ignore_errors=True)
        _err(f"cleaned {total['documents']} documents ({total['changed']} changed, {total['applied']} edits applied, "
             f"{total['suggested']} suggested, {total['bad']} bad records) -> {lay['output']}")


    def _gate_label(self) -> str | None:
        """How documents were routed to the neural stages, for the summary (None without them)."""
        from .pipeline import MODEL_STAGES
        if not any(s in self.cfg.stages for s in MODEL_STAGES):
            return None
        g = self.args.gate
        if g == "off":
            return "off"
        if g != "auto":
            return f"spin score >= {g:g}"
        from .gate import load_gate
        lexical, _ = load_gate(self.cfg.models_dir)
        if lexical is None:
            return "off (models/gate unavailable)"
        t = self.args.gate_threshold if self.args.gate_threshold is not None else lexical.threshold
        return f"auto: lexical score >= {t:g} or spin score >= {GATE_SCORE:g}"


def _load_stats(st: dict) -> dict:
    out = dict(st)
    for k in ("by_kind", "by_source", "phrases", "errors_by_type"):
        out[k] = Counter(st.get(k, {}))
    return out


class _Stop:
    """SIGINT/SIGTERM handler. With one process it raises at once (commits are atomic, so that is
    safe anywhere); with a pool it only sets a flag that the main loop checks every 0.5 s, because
    an exception raised inside the pool's queue and lock code can hang `Pool.terminate`."""

    def __init__(self, raise_now: bool):
        self.raise_now, self.requested = raise_now, False

    def __call__(self, signum, frame):
        self.requested = True
        if self.raise_now:
            raise KeyboardInterrupt

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt


# -- progress -------------------------------------------------------------------------------------
class Progress:
    """A one-line bar on a terminal (documents/s, MB/s, ETA by compressed input position);
    plain log lines every `every` seconds otherwise."""

    def __init__(self, mode: str, every: float, stream):
        tty = sys.stderr.isatty()
        self.mode = {"auto": "bar" if tty else "log"}.get(mode, mode)
        self.every = every if self.mode == "log" else 0.2
        self.stream = stream
        self.t0 = self.last = time.time()
        self.docs = self.bytes = self.skipped = 0
        self.shown = False

    def skip(self, n: int) -> None:
        self.skipped += n

    def update(self, docs: int, nbytes: int) -> None:
        self.docs += docs
        self.bytes += nbytes
        self.tick()

    def line(self) -> str:
        dt = max(time.time() - self.t0, 1e-9)
        pos, tot = self.stream.position(), self.stream.total_bytes
        frac = pos / tot if tot else 0.0
        eta = "?"
        if 0 < frac < 1 and self.docs:
            eta = _hms(dt * (1 - frac) / frac)
        skipped = f", {self.skipped:,} resumed" if self.skipped else ""
        return (f"{self.docs:,} docs{skipped} | {self.docs / dt:,.0f} docs/s | {self.bytes / dt / 1e6:.2f} MB/s | "
                f"{100 * frac:.0f}% | ETA {eta}")

    def tick(self) -> None:
        if self.mode == "none" or time.time() - self.last < self.every:
            return
        self.last = time.time()
        if self.mode == "bar":
            sys.stderr.write("\r\x1b[K" + self.line())
            self.shown = True
        else:
            sys.stderr.write(f"cleaner: {time.strftime('%H:%M:%S')} {self.line()}\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.mode == "bar" and self.shown:
            sys.stderr.write("\r\x1b[K" + self.line() + "\n")
            sys.stderr.flush()


def _hms(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
