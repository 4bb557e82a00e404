"""`cleaner clean`: formats, bad records, modes, edit log, report, workers, resume after SIGKILL."""

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cleaner import Cleaner, apply_edits, revert_edits
from cleaner.cli import main
from cleaner.edits import Edit

ROOT = Path(__file__).resolve().parent.parent
DEMO = str(ROOT / "tests" / "fixtures" / "demo.tsv")
FAST = ["--fast", "--tables", DEMO, "--progress", "none"]

SPUN = "Rights teams warn about local weather change and compelled labor in the final month."
CLEAN = "The committee met on Tuesday and approved the budget for next year."


def docs(n: int) -> list[dict]:
    return [{"id": f"d{i}", "text": f"{SPUN if i % 3 == 0 else CLEAN} Item {i}.", "n": i} for i in range(n)]


def write_jsonl(path: Path, rows, raw_lines=()) -> Path:
    data = b"".join(json.dumps(r).encode() + b"\n" for r in rows) + b"".join(raw_lines)
    if path.suffix == ".gz":
        data = gzip.compress(data)
    elif path.suffix == ".zst":
        import zstandard
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def read_out(path: Path) -> list[dict]:
    from cleaner.corpus_io import open_read
    if path.is_dir():
        rows = []
        for p in sorted(path.glob("part-*")):
            rows.extend(read_out(p))
        return rows
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq
        return pq.read_table(path).to_pylist()
    with open_read(str(path)) as f:
        return [json.loads(line) for line in f]


def clean(*args) -> int:
    return main(["clean", *map(str, args), *FAST])


def test_jsonl_fields_edit_log_and_exact_edits(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", docs(9))
    out = tmp_path / "out.jsonl"
    assert clean(src, "-o", out, "--out-field", "cleaned") == 0
    rows = read_out(out)
    assert [r["id"] for r in rows] == [f"d{i}" for i in range(9)]
    assert all(r["n"] == i and r["text"] == docs(9)[i]["text"] for i, r in enumerate(rows))  # other fields kept
    assert rows[0]["cleaned"].startswith("Rights groups warn about climate change and forced labor in the last month.")
    assert rows[1]["cleaned"] == rows[1]["text"] and rows[1]["cleaner_edit_count"] == 0
    assert rows[0]["cleaner_edit_count"] == 4 and rows[0]["cleaner_spin_score"] > 0.5
    log = [json.loads(x) for x in (tmp_path / "out.jsonl.edits.jsonl").read_text().splitlines()]
    assert [r["doc_id"] for r in log] == ["d0", "d3", "d6"]
    assert {r["source"] for r in log} == {str(src)} and [r["line"] for r in log] == [1, 4, 7]
    for r in log:
        original = docs(9)[r["line"] - 1]["text"]
        edits = [Edit.from_dict(e) for e in r["edits"]]
        assert apply_edits(original, edits) == rows[r["line"] - 1]["cleaned"]
        assert revert_edits(rows[r["line"] - 1]["cleaned"], edits) == original
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert summary["documents"] == 9 and summary["changed_documents"] == 3
    assert summary["edits"]["by_kind"] == {"spin": 12} and summary["edits"]["by_source"] == {"table:demo": 12}
    assert sum(summary["spin_score_histogram"]["counts"]) == 9
    assert {"before": "compelled labor", "after": "forced labor", "count": 3} in summary["top_restored"]
    html = (tmp_path / "out.jsonl.report.html").read_text()
    assert "<svg" in html and "compelled labor" in html and "http" not in html.split("<body>")[1]
    assert not (tmp_path / "out.jsonl.parts").exists()


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst", ".parquet"])
def test_compressed_and_parquet_round_trip(tmp_path, suffix):
    rows = docs(7)
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        src = tmp_path / "in.parquet"
        pq.write_table(pa.Table.from_pylist(rows), src, row_group_size=3)
    else:
        src = write_jsonl(tmp_path / f"in{suffix}", rows)
    out = tmp_path / f"out{suffix}"
    assert clean(src, "-o", out, "--shard-docs", "2") == 0
    got = read_out(out)
    assert [r["id"] for r in got] == [r["id"] for r in rows]
    assert got[3]["text"].startswith("Rights groups warn")
    log = [json.loads(x) for x in Path(f"{out}.edits.jsonl").read_text().splitlines()]
    assert [r["line"] for r in log] == [1, 4, 7]  # Parquet rows are 1-based like JSONL lines


def test_text_folder_to_sharded_folder(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "a.txt").write_text(SPUN + "\n")
    (corpus / "sub" / "b.md").write_text(CLEAN + "\n")
    (corpus / "c.bin").write_bytes(b"\x00\x01binary")   # not an included text suffix: ignored
    (corpus / "d.txt").write_bytes(b"caf\xe9\n")        # invalid UTF-8: rejected, not lost
    out = tmp_path / "out"
    assert clean(corpus, "-o", out, "--shard-docs", "2") == 0
    assert sorted(p.name for p in out.iterdir()) == ["edits.jsonl", "part-00000.jsonl.gz", "part-00001.jsonl.gz",
                                                      "rejects.jsonl", "report.html", "summary.json"]
    got = read_out(out)
    assert [r["id"] for r in got] == [str(corpus / "a.txt"), str(corpus / "sub" / "b.md")]
    assert got[0]["text"].startswith("Rights groups")
    rej = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert rej[0]["source"] == str(corpus / "d.txt") and "UTF-8" in rej[0]["error"]
    assert rej[0]["raw"].encode("utf-8", "surrogateescape") == b"caf\xe9\n"


def test_bad_records_pass_through_or_reject(tmp_path, capsys):
    good = docs(2)
    bad = [b"{not json\n", b'{"id": "x"}\n', b'{"id": "y", "text": 5}\n', b'"just a string"\n', b'{"text": "caf\xe9"}\n']
    src = write_jsonl(tmp_path / "in.jsonl", good, bad)
    out = tmp_path / "out.jsonl"
    assert clean(src, "-o", out) == 0
    lines = out.read_bytes().splitlines(keepends=True)
    assert lines[2:] == bad                                          # passed through byte for byte
    err = capsys.readouterr().err
    assert f"{src}:3: invalid JSON" in err and f"{src}:7: invalid UTF-8" in err and f"{src}:5: field 'text' is int" in err
    s = json.loads(Path(f"{out}.summary.json").read_text())
    assert s["bad_records"] == 5 and s["passed_through"] == 5 and len(s["errors"]) == 5
    out2 = tmp_path / "out2.jsonl"
    assert clean(src, "-o", out2, "--rejects", tmp_path / "rej.jsonl") == 0
    assert len(read_out(out2)) == 2
    rej = [json.loads(x) for x in (tmp_path / "rej.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rej] == [3, 4, 5, 6, 7]
    assert [r["raw"].encode("utf-8", "surrogateescape") for r in rej] == bad


def test_flag_mode_and_min_score(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", docs(4))
    assert clean(src, "-o", tmp_path / "flag.jsonl", "--mode", "flag") == 0
    rows = read_out(tmp_path / "flag.jsonl")
    assert [r["text"] for r in rows] == [d["text"] for d in docs(4)]
    assert rows[0]["cleaner_edit_count"] == 4 and rows[3]["cleaner_edit_count"] == 4
    assert clean(src, "-o", tmp_path / "min.jsonl", "--min-score", "0.99") == 0
    rows = read_out(tmp_path / "min.jsonl")
    assert [r["text"] for r in rows] == [d["text"] for d in docs(4)] and rows[0]["cleaner_edit_count"] == 0
    log = [json.loads(x) for x in (tmp_path / "min.jsonl.edits.jsonl").read_text().splitlines()]
    assert log and all(not e["applied"] and "--min-score" in e["reason"] for r in log for e in r["edits"])


def test_fix_encoding_edits_compose_exactly(tmp_path):
    text = "Caf\u00c3\u00a9 owners saw local weather change \u00e2\u20ac\u201c and the the rights teams."
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "m", "text": text}, {"id": "c", "text": "Caf\u00e9 \u2013 fine."}])
    out = tmp_path / "out.jsonl"
    assert clean(src, "-o", out, "--fix-encoding") == 0
    rows = read_out(out)
    assert rows[0]["text"] == "Caf\u00e9 owners saw climate change \u2013 and the rights groups."
    assert rows[1]["text"] == "Caf\u00e9 \u2013 fine."            # correct text is left alone
    (log,) = [json.loads(x) for x in Path(f"{out}.edits.jsonl").read_text().splitlines()]
    edits = [Edit.from_dict(e) for e in log["edits"]]
    assert {e.kind for e in edits} == {"encoding", "spin", "mt"}
    assert apply_edits(text, edits) == rows[0]["text"] and revert_edits(rows[0]["text"], edits) == text


def test_compose_merges_overlapping_edits():
    from cleaner.encoding import compose, repair
    text = "The rights te\u00c3\u00a1ms said"   # mojibake inside a spun phrase
    fixed, enc = repair(text)
    assert fixed == "The rights te\u00e1ms said" and len(enc) == 1
    later = [Edit(4, 16, "rights te\u00e1ms", "rights groups", kind="spin", source="t")]
    (e,) = compose(text, enc, fixed, later)
    assert (e.before, e.after, e.kind) == ("rights te\u00c3\u00a1ms", "rights groups", "spin")
    assert e.meta["encoding"][0]["kind"] == "encoding"
    assert apply_edits(text, [e]) == "The rights groups said"


def test_workers_give_the_same_output_in_input_order(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl.gz", docs(50))
    assert clean(src, "-o", tmp_path / "one.jsonl", "--shard-docs", "7") == 0
    assert clean(src, "-o", tmp_path / "two.jsonl", "--shard-docs", "7", "--workers", "2") == 0
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()
    assert (tmp_path / "one.jsonl.edits.jsonl").read_bytes() == (tmp_path / "two.jsonl.edits.jsonl").read_bytes()


def test_refuses_to_overwrite_or_resume_a_different_run(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", docs(3))
    out = tmp_path / "out.jsonl"
    assert clean(src, "-o", out) == 0
    before = out.read_bytes()
    assert clean(src, "-o", out) == 2 and "exists" in capsys.readouterr().err
    assert clean(src, "-o", out, "--resume") == 0 and "already complete" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert clean(src, "-o", src) == 2
    (tmp_path / "out2.jsonl.parts").mkdir()
    (tmp_path / "out2.jsonl.parts" / "manifest.json").write_text('{"version": 1, "field": "other"}')
    assert clean(src, "-o", tmp_path / "out2.jsonl", "--resume") == 2
    assert "differ" in capsys.readouterr().err
    assert clean(src, "-o", tmp_path / "out2.jsonl", "--overwrite") == 0


def test_clean_batch_matches_clean():
    c = Cleaner(stages=("tables", "mt"), tables=[DEMO])
    texts = [SPUN, CLEAN, "", "including including it"]
    assert [r.to_dict() for r in c.clean_batch(texts)] == [c.clean(t).to_dict() for t in texts]


def _run(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "cleaner", "clean", *map(str, args), *FAST], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, **kw)


@pytest.mark.slow
@pytest.mark.parametrize("sig,workers", [(signal.SIGKILL, 1), (signal.SIGKILL, 2), (signal.SIGTERM, 2),
                                         (signal.SIGINT, 1)])
def test_killed_run_resumes_with_every_record_once(tmp_path, sig, workers):
    n, per = 8000, 100
    rows = [{"id": i, "text": SPUN if i % 5 == 0 else CLEAN} for i in range(n)]
    src = write_jsonl(tmp_path / "in.jsonl.gz", rows)
    out = tmp_path / "out.jsonl.gz"
    args = [src, "-o", out, "--shard-docs", per, "--workers", workers]
    p = _run(args)
    parts = tmp_path / "out.jsonl.gz.parts"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("*.done.json"))) < 2 and p.poll() is None:
        time.sleep(0.005)
    assert p.poll() is None, "run finished before it could be killed; make the input bigger"
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    if sig != signal.SIGKILL:
        assert p.returncode == 130 and b"--resume" in err
    committed = len(list(parts.glob("*.done.json")))
    time.sleep(0.3)  # workers die with the parent: no shard may appear after it is gone
    assert len(list(parts.glob("*.done.json"))) == committed
    assert 2 <= committed < n // per and not out.exists()
    q = _run([*args, "--resume"])
    _, err = q.communicate(timeout=300)
    assert q.returncode == 0, err.decode()
    got = read_out(out)
    assert [r["id"] for r in got] == list(range(n))        # every record exactly once, in order
    assert got[0]["text"].startswith("Rights groups") and got[1]["text"] == rows[1]["text"]
    s = json.loads(Path(f"{out}.summary.json").read_text())
    assert s["documents"] == n and s["run"]["resumed_documents"] == committed * per
    log = [json.loads(x) for x in Path(f"{out}.edits.jsonl").read_text().splitlines()]
    assert [r["doc_id"] for r in log] == [str(i) for i in range(0, n, 5)]
    assert not parts.exists()


PIECES = ["rights teams", "local weather change", "caf\u00c3\u00a9", "\u00e2\u20ac\u201c", "the the", " ", " ", "\n",
          "compelled labor", "a", "an", "apple", "te\u00c3\u00a1ms", "including including", "Home", "white", "ok."]


def test_compose_property_apply_and_revert_exact():
    from hypothesis import given, settings, strategies as st

    from cleaner.encoding import compose, repair
    c = Cleaner(stages=("tables", "mt"), tables=[DEMO])

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.lists(st.sampled_from(PIECES), max_size=25))
    def check(parts):
        text = "".join(parts)
        fixed, enc = repair(text)
        r = c.clean(fixed)
        edits = compose(text, enc, fixed, r.edits)
        assert apply_edits(text, edits) == r.text
        assert revert_edits(r.text, edits) == text
    check()


def test_fast_path_never_imports_torch(tmp_path):
    """The parent and each pool worker (initializer + one shard) stay torch-free with --fast."""
    src = write_jsonl(tmp_path / "in.jsonl", docs(3))
    code = f"""
import sys
from cleaner.cli import build_parser
from cleaner import batch
from cleaner.corpus_io import InputStream
args = build_parser("clean").parse_args(["clean", {str(src)!r}, "-o", {str(tmp_path / 'o.jsonl')!r}, *{FAST!r}])
job = batch.Job.from_args(args)
job.prepare_state()
batch._init_worker(job.opts)
st = batch._work(0, list(InputStream(job.files)))
assert st["documents"] == 3 and st["applied"] == 4, st
print("torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_memory_stays_flat_while_streaming_from_a_pipe(tmp_path):
    """Bounded memory on a smaller scale than scripts/bench_batch.py's 1 GB run: 16 MB piped in,
    RSS after the first quarter vs at the end. Holding the input, the output rows or the edit log
    would grow it by tens of MB."""
    import threading

    import psutil
    body = " ".join([CLEAN] * 40)
    p = subprocess.Popen([sys.executable, "-m", "cleaner", "clean", "-", "-o", str(tmp_path / "out"), "--format",
                          "jsonl.zst", "--shard-docs", "200", "--shard-mb", "0.5", *FAST], cwd=ROOT,
                         stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    proc, written, rss = psutil.Process(p.pid), [0], []

    def sample():
        while p.poll() is None:
            try:
                rss.append((written[0], proc.memory_info().rss))
            except psutil.Error:
                return
            time.sleep(0.02)
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    total = 16_000_000
    i = 0
    while written[0] < total:
        line = json.dumps({"id": i, "text": (SPUN + " " if i % 7 == 0 else "") + body + f" {i}"}).encode() + b"\n"
        p.stdin.write(line)
        written[0] += len(line)
        i += 1
    p.stdin.close()
    assert p.wait(timeout=300) == 0
    t.join()
    early = max(r for w, r in rss if w <= total // 4)
    late = max(r for w, r in rss)
    assert late - early < 6_000_000, (early, late)
    assert sum(1 for _ in (tmp_path / "out").glob("part-*")) >= 25
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["documents"] == i and s["changed_documents"] == len(range(0, i, 7))


def test_progress_log_lines(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", docs(6))
    assert main(["clean", str(src), "-o", str(tmp_path / "o.jsonl"), "--fast", "--tables", DEMO, "--shard-docs", "2",
                 "--progress", "log", "--log-every", "0"]) == 0
    lines = [x for x in capsys.readouterr().err.splitlines() if "docs/s" in x]
    assert len(lines) == 3 and lines[-1].split()[2] == "6"
    assert all("MB/s" in x and "ETA" in x for x in lines)
