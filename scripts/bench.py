"""Benchmarks: throughput, peak memory and start-up of the `cleaner` CLI, with codespell as reference.

    .venv/bin/python scripts/bench.py                 # >= 10 MB clean prose from ../shared/corpora
    .venv/bin/python scripts/bench.py --mb 2 --skip-models

Each command runs in its own process (wall time, peak RSS from os.wait4). Writes runs/bench/bench.json.
Rows: start-up (`--version`, `check` on one sentence), `check --fast` and codespell on the same files,
`fix --fast` and batch `clean --fast` on clean and on spun text (data/synth/test.jsonl), the full
pipeline (detector + rewriter, if shipped) on a small sample, and whether `check --fast` imports torch.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
SYNTH = ROOT / "data" / "synth" / "test.jsonl"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
CLI = [sys.executable, "-m", "cleaner"]


def run(cmd: list[str], stdout=subprocess.DEVNULL) -> dict:
    """Wall seconds, peak RSS (MB) and exit code of one child process."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, env=ENV, cwd=ROOT)
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"seconds": round(time.perf_counter() - t, 3), "rss_mb": round(usage.ru_maxrss / 1024, 1),
            "rc": p.returncode, "stderr": err.decode("utf-8", "replace")[-2000:]}


def write_files(texts, folder: Path, target_bytes: int, file_bytes: int = 256_000) -> int:
    """Texts into ~file_bytes .txt files until target_bytes; returns the bytes written."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    total, buf, n = 0, [], 0
    for t in texts:
        buf.append(t)
        if sum(len(b) for b in buf) >= file_bytes:
            data = ("\n\n".join(buf) + "\n").encode("utf-8")
            (folder / f"{n:04d}.txt").write_bytes(data)
            total, buf, n = total + len(data), [], n + 1
            if total >= target_bytes:
                return total
    if buf:
        data = ("\n\n".join(buf) + "\n").encode("utf-8")
        (folder / f"{n:04d}.txt").write_bytes(data)
        total += len(data)
    return total


def corpus_texts():
    """Clean documents round-robin over the corpus files (eval-only BBC news included: nothing trains here)."""
    files = sorted(CORPORA.rglob("*.jsonl.gz"))
    handles = [gzip.open(p, "rt", encoding="utf-8") for p in files]
    while handles:
        for h in list(handles):
            line = h.readline()
            if not line:
                handles.remove(h)
                continue
            yield json.loads(line)["text"]


def to_jsonl(folder: Path, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for i, p in enumerate(sorted(folder.glob("*.txt"))):
            for j, doc in enumerate(p.read_text(encoding="utf-8").split("\n\n")):
                if doc.strip():
                    f.write(json.dumps({"id": f"{i}-{j}", "text": doc}) + "\n")


def imports_torch() -> dict:
    """Does the table-only path import torch/transformers? (python -X importtime on the real CLI)"""
    probe = ROOT / "runs" / "bench" / "probe.txt"
    probe.write_text("Rights teams warn about local weather change.\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "cleaner", "check", "--fast", str(probe)],
                       capture_output=True, text=True, env=ENV, cwd=ROOT)
    mods = {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines() if "|" in line}
    return {"torch": "torch" in mods, "transformers": "transformers" in mods, "modules": len(mods)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=float, default=10.5, help="clean prose to benchmark (MB)")
    ap.add_argument("--model-kb", type=int, default=200, help="text for the full (neural) pipeline rows (KB)")
    ap.add_argument("--skip-models", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "bench" / "bench.json")
    a = ap.parse_args(argv)
    if not CORPORA.exists():
        print(f"bench.py: {CORPORA} missing (needs the read-only ../shared data)", file=sys.stderr)
        return 2
    work = ROOT / "runs" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    clean_dir, spun_dir = work / "clean", work / "spun"
    clean_bytes = write_files(corpus_texts(), clean_dir, int(a.mb * 1e6))
    spun_bytes = 0
    if SYNTH.exists():
        spun_bytes = write_files((json.loads(line)["spun"] for line in open(SYNTH, encoding="utf-8")), spun_dir, 10**9)
    model_clean, model_spun = work / "model-clean", work / "model-spun"
    mc = write_files(corpus_texts(), model_clean, a.model_kb * 1000, 50_000)
    ms = write_files((json.loads(line)["spun"] for line in open(SYNTH, encoding="utf-8")), model_spun,
                     a.model_kb * 1000, 50_000) if SYNTH.exists() else 0
    tiny = work / "tiny.txt"
    tiny.write_text("Officials stated the invoice was considered one of many.\n", encoding="utf-8")

    rows = []

    def row(name, cmd, nbytes=0, repeat=1):
        rs = [run(cmd) for _ in range(repeat)]
        r = min(rs, key=lambda x: x["seconds"])
        r["seconds_median"] = statistics.median(x["seconds"] for x in rs)
        r.update(name=name, bytes=nbytes, mb_s=round(nbytes / 1e6 / r["seconds"], 3) if nbytes else None,
                 cmd=" ".join(c.replace(str(ROOT) + "/", "") for c in cmd))
        if r["rc"] not in (0, 1) and not (r["rc"] == 65 and "codespell" in name):  # 65: codespell found typos
            print(f"bench.py: {name} failed (rc {r['rc']}): {r['stderr'][-300:]}", file=sys.stderr)
        rows.append(r)
        print(f"{name:38} {r['seconds']:8.2f}s {r['mb_s'] or '':>8} MB/s {r['rss_mb']:8.1f} MB  rc={r['rc']}", flush=True)

    files = sorted(str(p) for p in clean_dir.glob("*.txt"))
    row("start-up: cleaner --version", CLI + ["--version"], repeat=5)
    row("start-up: check --fast (1 sentence)", CLI + ["check", "--fast", str(tiny)], repeat=5)
    row("check --fast, clean", CLI + ["check", "--fast", *files], clean_bytes)
    codespell = shutil.which("codespell") or str(Path(sys.executable).parent / "codespell")
    row("codespell, same files", [codespell, *files], clean_bytes)
    row("fix --fast, clean", CLI + ["fix", "--fast", *files], clean_bytes)
    to_jsonl(clean_dir, work / "clean.jsonl")
    row("batch clean --fast, clean (JSONL)", CLI + ["clean", "--fast", str(work / "clean.jsonl"), "-o",
        str(work / "out-clean.jsonl"), "--overwrite", "--progress", "none"], clean_bytes)
    if spun_bytes:
        sfiles = sorted(str(p) for p in spun_dir.glob("*.txt"))
        row("check --fast, spun", CLI + ["check", "--fast", *sfiles], spun_bytes)
        row("fix --fast, spun", CLI + ["fix", "--fast", *sfiles], spun_bytes)
        to_jsonl(spun_dir, work / "spun.jsonl")
        row("batch clean --fast, spun (JSONL)", CLI + ["clean", "--fast", str(work / "spun.jsonl"), "-o",
            str(work / "out-spun.jsonl"), "--overwrite", "--progress", "none"], spun_bytes)
    if not a.skip_models:
        row("start-up: check, all stages (1 sentence)", CLI + ["check", str(tiny)], repeat=2)
        note = rows[-1]["stderr"]
        if "stage off" in note:
            print("  (" + "; ".join(ln for ln in note.splitlines() if "stage off" in ln) + ")")
        if "detector stage off" not in note:
            row("check, all stages, clean", CLI + ["check", *sorted(map(str, model_clean.glob("*.txt")))], mc)
            if ms:
                row("check, all stages, spun", CLI + ["check", *sorted(map(str, model_spun.glob("*.txt")))], ms)
    imp = imports_torch()
    print(f"check --fast imports torch: {imp['torch']}, transformers: {imp['transformers']}")
    fast, ref = next(r for r in rows if r["name"] == "check --fast, clean"), next(r for r in rows if r["name"].startswith("codespell"))
    print(f"check --fast vs codespell: {fast['mb_s']} vs {ref['mb_s']} MB/s ({fast['seconds']:.1f}s vs {ref['seconds']:.1f}s)")
    rep = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "python": sys.version.split()[0],
           "cpus": os.cpu_count(), "clean_bytes": clean_bytes, "spun_bytes": spun_bytes, "fast_imports": imp,
           "rows": [{k: v for k, v in r.items() if k != "stderr"} for r in rows]}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    from cleaner.textio import atomic_write_bytes
    atomic_write_bytes(a.out, (json.dumps(rep, indent=1) + "\n").encode())
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
