"""Batch-cleaning benchmark (issue 6): throughput, peak memory per process, gate recall, 1 GB run.

    .venv/bin/python scripts/bench_batch.py                          # everything -> runs/bench_batch/bench.json
    .venv/bin/python scripts/bench_batch.py --parts throughput,gate --mb 4 --neural-mb 0.5
    .venv/bin/python scripts/bench_batch.py --parts gate --gate-docs 150
    .venv/bin/python scripts/bench_batch.py --parts throughput --stage-sets fast,auto --mb 20 --neural-mb 0.2 --repeat 3
    .venv/bin/python scripts/bench_batch.py --parts bigrun --gb 1.0

From another script: `from scripts.bench_batch import bench; figures = bench(parts=("throughput",))`.

throughput  `cleaner clean` as a subprocess on a clean corpus (Wikipedia-2015 from ../shared, minus
            the articles behind data/synth/train.jsonl, which the lexical gate was trained on) and
            a spun one (`spun` texts of data/synth/test.jsonl), 1 and 2 workers, for the stage sets
            fast (`--fast`: tables + rules), auto (all stages behind the default gate, `--gate auto`),
            all (all stages on every document, `--no-gate`) and score (all stages, `--gate S`, the
            spin-score gate alone). fast runs and the clean corpus under auto use --mb MB, the other
            runs --neural-mb MB. MB/s = JSONL input bytes / wall time (start-up and model loading
            included); peak RSS of the parent and of each worker, sampled every 0.2 s.
gate        in process, on --gate-docs spun synthetic documents (test split): the share of gold spans
            that some edit overlaps (found) and that an applied edit overlaps (applied) for tables +
            rules only, all stages on every document, all stages behind the lexical gate (`--gate
            auto`, models/gate) at its default threshold and at the thresholds for 1% / 3% clean dev
            bytes (models/gate/gate.json) and at --lexical extra ones, and behind the spin-score gate
            alone at each of --gates; plus the share of spun documents and of clean documents and
            bytes (--gate-clean-mb of Wikipedia-2015, and the held-out data/clean/test.jsonl) each
            gate sends to the neural stages.
bigrun      >= --gb GB of JSONL generated on the fly and piped to `cleaner clean -` (--fast,
            2 workers, zstd shards in a folder): RSS of every process sampled through the run, to
            show memory stays flat as input grows. The output is deleted afterwards.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
OUT = ROOT / "runs" / "bench_batch"
STAGE_SETS = {"fast": ["--fast"], "auto": [], "all": ["--no-gate"], "score": ["--gate", "{gate}"]}


def train_ids() -> set[str]:
    """Document ids behind the simulator's train split (the lexical gate learnt from their chunks)."""
    ids = set()
    path = ROOT / "data" / "synth" / "train.jsonl"
    if path.exists():
        with open(path, "rb") as fh:
            for line in fh:
                i = line.find(b'"id": "') + 7
                ids.add(line[i:line.find(b'"', i)].decode().split("#")[0])
    return ids


def clean_docs(held_out: bool = True):
    """Clean English documents: Wikipedia-2015 (not the eval-only BBC set). held_out: skip the
    articles whose chunks are in data/synth/train.jsonl, which the lexical gate was trained on."""
    files = sorted((SHARED / "corpora" / "wikipedia-2015").glob("*.jsonl.gz"))
    if not files:
        raise SystemExit(f"needs {SHARED}/corpora/wikipedia-2015")
    skip = train_ids() if held_out else set()
    for f in files:
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                d = json.loads(line)
                if d["id"] not in skip:
                    yield {"id": d["id"], "text": d["text"]}


def spun_records(split: str = "test"):
    path = ROOT / "data" / "synth" / f"{split}.jsonl"
    if not path.exists():
        raise SystemExit(f"needs {path} (scripts/spin.py)")
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r["family"] != "none" and r["spans"]:
                yield r


def write_corpus(path: Path, docs, mb: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for d in docs:
            line = json.dumps(d, ensure_ascii=False) + "\n"
            f.write(line)
            n += len(line.encode())
            if n >= mb * 1e6:
                break
    return path


class RssSampler(threading.Thread):
    """Peak RSS per process of a process tree, sampled every `every` seconds."""

    def __init__(self, pid: int, every: float = 0.2, on_sample=None):
        super().__init__(daemon=True)
        import psutil
        self.root, self.every, self.on_sample = psutil.Process(pid), every, on_sample
        self.peak: dict[int, int] = {}
        self.stop = threading.Event()

    def sample(self) -> dict[int, int]:
        import psutil
        now = {}
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return now
        for p in procs:
            try:
                now[p.pid] = p.memory_info().rss
            except psutil.Error:
                pass
        for pid, rss in now.items():
            self.peak[pid] = max(self.peak.get(pid, 0), rss)
        return now

    def run(self) -> None:
        while not self.stop.is_set():
            now = self.sample()
            if self.on_sample:
                self.on_sample(now)
            self.stop.wait(self.every)

    def result(self) -> dict:
        parent = self.peak.get(self.root.pid, 0)
        workers = [v for k, v in self.peak.items() if k != self.root.pid and v > 30e6]  # not the resource tracker
        return {"parent_peak_mb": round(parent / 1e6, 1),
                "worker_peak_mb": round(max(workers) / 1e6, 1) if workers else None}


def run_clean(inp: Path, workers: int, extra: list[str], tag: str) -> dict:
    out = OUT / "out" / f"{tag}.jsonl"
    shard_mb = max(0.02, inp.stat().st_size / 1e6 / 8)  # >= 8 shards, so 2 workers both get work
    cmd = [sys.executable, "-m", "cleaner", "clean", str(inp), "-o", str(out), "--overwrite", "--progress", "none",
           "--shard-mb", f"{shard_mb:.3f}",
           "--workers", str(workers), "--summary", str(out) + ".summary.json", "--report", "", "--edit-log", "", *extra]
    t0 = time.time()
    p = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    sampler = RssSampler(p.pid)
    sampler.start()
    _, err = p.communicate()
    wall = time.time() - t0
    sampler.stop.set()
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err.decode()}")
    s = json.loads(Path(str(out) + ".summary.json").read_text())
    out.unlink()
    size = inp.stat().st_size
    notices = [x for x in err.decode().splitlines() if "stage off" in x or "gate unavailable" in x]
    return {"workers": workers, "stages": s["stages"], "args": " ".join(extra), "documents": s["documents"],
            "input_mb": round(size / 1e6, 2), "wall_s": round(wall, 2), "mb_per_s": round(size / 1e6 / wall, 3),
            "docs_per_s": round(s["documents"] / wall, 1), "mb_per_s_excl_startup": s["run"]["mb_per_s"],
            "changed_documents": s["changed_documents"], "edits_applied": s["edits"]["applied"],
            **({"gate": s["gate"], "neural_documents": s["neural_documents"]} if "gate" in s else {}),
            **sampler.result(), **({"notices": notices} if notices else {})}


def throughput(mb: float, neural_mb: float, workers: list[int], gate: float, stage_sets: list[str],
               repeat: int = 1) -> list[dict]:
    """One row per corpus x stage set x workers. Rows on the --mb corpus run `repeat` times, round
    after round (so a load spike hits every row alike), and report the median MB/s; the slow
    --neural-mb rows run once."""
    clean = write_corpus(OUT / "clean.jsonl", clean_docs(), mb)
    spun = write_corpus(OUT / "spun.jsonl", ({"id": r["id"], "text": r["spun"]} for r in spun_records()), mb)
    small = {"clean": write_corpus(OUT / "clean-small.jsonl", clean_docs(), neural_mb),
             "spun": write_corpus(OUT / "spun-small.jsonl",
                                  ({"id": r["id"], "text": r["spun"]} for r in spun_records()), neural_mb)}
    plan = []
    for stages in stage_sets:
        for name, path in (("clean", clean), ("spun", spun)):
            big = stages == "fast" or (stages == "auto" and name == "clean")
            plan += [(stages, name, path if big else small[name], w, big) for w in workers]
    runs: dict[int, list[dict]] = {}
    for rnd in range(max(1, repeat)):
        for i, (stages, name, inp, w, big) in enumerate(plan):
            if rnd and not big:
                continue
            r = run_clean(inp, w, [a.format(gate=gate) for a in STAGE_SETS[stages]], f"{name}-{stages}-{w}")
            runs.setdefault(i, []).append(r)
            print(json.dumps({"corpus": name, "stage_set": stages, "round": rnd, **r}), flush=True)
    rows = []
    for i, (stages, name, inp, w, big) in enumerate(plan):
        rs = sorted(runs[i], key=lambda r: r["mb_per_s"])
        mid = rs[len(rs) // 2]
        rows.append({"corpus": name, "stage_set": stages, **mid, "runs": len(rs),
                     "mb_per_s_runs": [r["mb_per_s"] for r in runs[i]],
                     "parent_peak_mb": max(r["parent_peak_mb"] for r in rs),
                     "worker_peak_mb": max((r["worker_peak_mb"] or 0 for r in rs), default=None) or None})
    return rows


def gate_recall(n: int, gates: list[float], lexical: list[float] | None = None, clean_mb: float = 4.0) -> dict:
    """Gold-span recall on spun synthetic documents without and with each gate, and the share of
    spun / clean documents (and clean bytes) each gate sends to the neural stages. A routed document
    gets the full result and the others the tables-and-rules result, exactly as `DocCleaner` does:
    `--gate auto` routes when the lexical score reaches its threshold or the tables-and-rules spin
    score reaches GATE_SCORE; `--gate S` when the spin score reaches S."""
    sys.path.insert(0, str(ROOT))
    from cleaner.batch import GATE_SCORE, DocCleaner
    from cleaner.gate import load_gate
    lex, why = load_gate()
    if lex is None:
        raise SystemExit(f"gate: {why}")
    recs = list(itertools.islice(spun_records(), n))
    texts = [r["spun"] for r in recs]
    clean, size = [], 0
    for d in clean_docs():
        clean.append(d["text"])
        size += len(d["text"].encode())
        if size >= clean_mb * 1e6:
            break
    with open(ROOT / "data" / "clean" / "test.jsonl", encoding="utf-8") as f:
        held_out = [json.loads(x)["text"] for x in f]
    full, fast = DocCleaner(gate="off"), DocCleaner(stages=("tables", "mt"))
    neural = [s for s in full.cleaner.stages if s in ("detector", "rewriter")]
    if not neural:
        raise SystemExit("gate: no neural stages configured")
    t0 = time.time()
    res_fast = fast.clean(texts)
    res_full = []
    for k in range(0, len(texts), 16):
        res_full.extend(full.clean(texts[k:k + 16]))
    seconds_full = time.time() - t0
    t0 = time.time()
    clean_fast = fast.clean(clean)
    seconds_clean_fast = time.time() - t0
    t0 = time.time()
    clean_lex = [lex.score(t) for t in clean]
    seconds_clean_lex = time.time() - t0
    held_fast, held_lex = fast.clean(held_out), [lex.score(t) for t in held_out]
    spun_lex = [lex.score(t) for t in texts]
    gold = sum(len(r["spans"]) for r in recs)

    def recall(results) -> dict:
        found = applied = 0
        for r, c in zip(recs, results):
            for g in r["spans"]:
                hits = [e for e in c.edits if e.start < g["end"] and g["start"] < e.end]
                found += bool(hits)
                applied += any(e.applied for e in hits)
        return {"span_recall_found": round(found / gold, 4), "span_recall_applied": round(applied / gold, 4)}

    def row(name: str, route) -> dict:
        through = [route(c.spin_score, x) for c, x in zip(res_fast, spun_lex)]
        on_clean = [route(c.spin_score, x) for c, x in zip(clean_fast, clean_lex)]
        on_held = [route(c.spin_score, x) for c, x in zip(held_fast, held_lex)]
        nbytes = [len(t.encode()) for t in clean]
        return {"gate": name, **recall([b if t else a for a, b, t in zip(res_fast, res_full, through)]),
                "spun_docs_to_neural": round(sum(through) / len(texts), 4),
                "clean_docs_to_neural": round(sum(on_clean) / len(clean), 4),
                "clean_bytes_to_neural": round(sum(b for b, t in zip(nbytes, on_clean) if t) / sum(nbytes), 4),
                "held_out_clean_docs_to_neural": round(sum(on_held) / len(held_out), 4)}

    by_rate = lex.meta.get("thresholds_by_clean_byte_rate", {})
    thresholds = sorted({lex.threshold, *by_rate.values(), *(lexical or [])}, reverse=True)
    out = {"documents": len(recs), "gold_spans": gold, "clean_documents": len(clean),
           "clean_mb": round(sum(len(t.encode()) for t in clean) / 1e6, 2), "held_out_clean_documents": len(held_out),
           "neural_stages": neural, "notices": full.cleaner.notices, "lexical_default": lex.threshold,
           "lexical_thresholds_by_clean_dev_byte_rate": by_rate, "gate_score": GATE_SCORE,
           "seconds_full_pipeline": round(seconds_full, 1),
           "clean_mb_per_s_tables_rules": round(sum(len(t.encode()) for t in clean) / 1e6 / seconds_clean_fast, 2),
           "clean_mb_per_s_lexical_gate": round(sum(len(t.encode()) for t in clean) / 1e6 / seconds_clean_lex, 1),
           "fast_only": recall(res_fast), "no_gate": recall(res_full), "gates": []}
    for t in thresholds:
        rate = next((k for k, v in by_rate.items() if v == t), None)
        name = f"auto, lexical >= {t:g}" + (" (default)" if t == lex.threshold else "") + \
            (f" [{float(rate):.1%} clean dev bytes]" if rate else "")
        out["gates"].append(row(name, lambda s, x, t=t: s >= GATE_SCORE or x >= t))
    for g in gates:
        out["gates"].append(row(f"spin score >= {g:g}", lambda s, x, g=g: s >= g))
    return out


def bigrun(gb: float, workers: int) -> dict:
    """Pipe >= gb GB of generated JSONL into `cleaner clean -`; RSS per process through the run."""
    target = int(gb * 1e9)
    base = [d for d in itertools.islice(clean_docs(held_out=False), 2000)]
    spun = [r["spun"] for r in itertools.islice(spun_records(), 2000)]
    out = OUT / "big"
    cmd = [sys.executable, "-m", "cleaner", "clean", "-", "-o", str(out), "--format", "jsonl.zst", "--overwrite",
           "--fast", "--workers", str(workers), "--progress", "log", "--log-every", "30", "--edit-log", "",
           "--report", ""]
    p = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    written = [0]
    trace: list[dict] = []
    t0 = time.time()

    def on_sample(now: dict[int, int]) -> None:
        if now and (not trace or time.time() - trace[-1]["t"] - t0 >= 10):
            trace.append({"t": time.time() - t0, "input_gb": round(written[0] / 1e9, 3),
                          "rss_mb": sorted(round(v / 1e6, 1) for v in now.values())})

    sampler = RssSampler(p.pid, every=1.0, on_sample=on_sample)
    sampler.start()
    err_lines: list[str] = []
    reader = threading.Thread(target=lambda: err_lines.extend(x.decode() for x in p.stderr), daemon=True)
    reader.start()
    for i in itertools.count():
        d = base[i % len(base)]
        text = d["text"][:4000] if i % 4 else d["text"][:2000] + " " + spun[i % len(spun)]
        line = (json.dumps({"id": f"{d['id']}#{i}", "text": text}, ensure_ascii=False) + "\n").encode()
        p.stdin.write(line)
        written[0] += len(line)
        if written[0] >= target:
            break
    p.stdin.close()
    p.wait()
    reader.join()
    sampler.stop.set()
    wall = time.time() - t0
    if p.returncode != 0:
        raise SystemExit("".join(err_lines[-20:]))
    s = json.loads((out / "summary.json").read_text())
    out_mb = sum(f.stat().st_size for f in out.glob("part-*")) / 1e6
    for f in out.iterdir():
        f.unlink()
    out.rmdir()
    for t in trace:
        t["t"] = round(t["t"], 1)
    quarter = [trace[min(len(trace) - 1, int(len(trace) * q))] for q in (0.1, 0.25, 0.5, 0.75)] + [trace[-1]]
    return {"input_gb": round(written[0] / 1e9, 3), "documents": s["documents"], "workers": workers,
            "wall_s": round(wall, 1), "mb_per_s": round(written[0] / 1e6 / wall, 3),
            "output_zst_mb": round(out_mb, 1), "changed_documents": s["changed_documents"],
            **sampler.result(), "rss_at_progress": quarter}


def bench(parts=("throughput", "gate", "bigrun"), mb: float = 4.0, neural_mb: float = 0.5, workers=(1, 2),
          gate: float = 0.3, gate_docs: int = 300, gb: float = 1.0, stage_sets=("fast", "auto", "all", "score"),
          gates=(0.01, 0.3), lexical=(), gate_clean_mb: float = 4.0, repeat: int = 1) -> dict:
    res = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
           "load_avg_start": [round(x, 2) for x in os.getloadavg()]}
    if "throughput" in parts:
        res["throughput"] = throughput(mb, neural_mb, list(workers), gate, list(stage_sets), repeat)
    if "gate" in parts:
        res["gate_recall"] = gate_recall(gate_docs, sorted({*gates, gate}), list(lexical), gate_clean_mb)
        print(json.dumps(res["gate_recall"]), flush=True)
    if "bigrun" in parts:
        res["bigrun"] = bigrun(gb, max(workers))
        print(json.dumps(res["bigrun"]), flush=True)
    res["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="throughput,gate,bigrun")
    ap.add_argument("--mb", type=float, default=4.0, help="corpus size for the tables-only runs")
    ap.add_argument("--neural-mb", type=float, default=0.5, help="corpus size for runs with neural stages")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--stage-sets", default="fast,auto,all,score")
    ap.add_argument("--gate", type=float, default=0.3, help="the spin-score gate of the 'score' stage set")
    ap.add_argument("--gates", default="0.01,0.3", help="spin-score gate thresholds for the recall part")
    ap.add_argument("--lexical", default="", help="extra lexical-gate thresholds for the recall part")
    ap.add_argument("--gate-docs", type=int, default=300)
    ap.add_argument("--gate-clean-mb", type=float, default=4.0, help="clean Wikipedia MB for the routing shares")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of the --mb throughput runs (median reported)")
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--out", default=str(OUT / "bench.json"))
    a = ap.parse_args()
    res = bench(parts=a.parts.split(","), mb=a.mb, neural_mb=a.neural_mb, workers=[int(w) for w in a.workers.split(",")],
                gate=a.gate, gate_docs=a.gate_docs, gb=a.gb, stage_sets=a.stage_sets.split(","),
                gates=[float(g) for g in a.gates.split(",")], lexical=[float(x) for x in a.lexical.split(",") if x],
                gate_clean_mb=a.gate_clean_mb, repeat=a.repeat)
    res["command"] = " ".join([".venv/bin/python", "scripts/bench_batch.py", *sys.argv[1:]])
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    from cleaner.textio import atomic_write_bytes
    atomic_write_bytes(Path(a.out), (json.dumps(res, indent=1) + "\n").encode())
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
