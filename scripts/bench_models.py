"""Model speed, this tree against a git revision, in one process with the runs interleaved.

    .venv/bin/python scripts/bench_models.py --against HEAD --rounds 6

Detector: sentences/s of `word_probs` on 1,000 sentences of held-out clean prose
(data/clean/test.jsonl, as `eval_detector.py --bench`). Rewriter: spans/s of one `rewrite` call on
500 gold spans of the synthetic test split (as `train_rewriter.py speed`), with the detector stage.
Both versions load the shipped models/. The speed of this machine drifts by 20–50% within minutes, so
separate runs of the two versions cannot be compared; alternating them can. Prints per-round
speeds and medians, and whether the two versions gave the same outputs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from scripts.eval_detector import bench_sentences  # noqa: E402
from scripts.train_detector import read_jsonl  # noqa: E402
from scripts.train_rewriter import joined, speed_records  # noqa: E402


def module_at(rev: str, name: str, tmp: Path):
    """cleaner.<name> as it was at `rev` (its relative imports resolve to this tree's package)."""
    src = subprocess.run(["git", "show", f"{rev}:cleaner/{name}.py"], cwd=ROOT, check=True,
                         capture_output=True).stdout
    path = tmp / f"{name}_{rev.replace('/', '_')}.py"
    path.write_bytes(src)
    spec = importlib.util.spec_from_file_location(f"cleaner._at_rev_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    mod.__package__ = "cleaner"
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", default="HEAD", help="git revision to compare with (default HEAD)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sentences", type=int, default=1000)
    ap.add_argument("--spans", type=int, default=500)
    ap.add_argument("--skip-rewriter", action="store_true")
    a = ap.parse_args(argv)

    import torch

    torch.set_num_threads(a.threads)
    from cleaner import detector as D, rewriter as RW

    with tempfile.TemporaryDirectory() as tmp:
        oldD = module_at(a.against, "detector", Path(tmp))
        oldRW = module_at(a.against, "rewriter", Path(tmp))
    dets = {"this tree": D.load_detector(None), a.against: oldD.load_detector(None)}
    if any(d is None for d in dets.values()):
        sys.exit(f"no detector: {D.why_not}")
    sents = bench_sentences((r["text"] for r in read_jsonl(ROOT / "data/clean/test.jsonl")), a.sentences)
    jobs = {name: (lambda d=d: d.word_probs(sents)) for name, d in dets.items()}
    units = {"detector": (len(sents), "sentences/s")}
    if not a.skip_rewriter:
        text, sp = joined(speed_records(ROOT / "data/synth"), a.spans)
        rws = {}
        for name, mod in (("this tree", RW), (a.against, oldRW)):
            r = mod.Rewriter(RW.default_dir(), RW.minilm_dir())
            r.detector = dets[name]
            rws[name] = r
        jobs.update({f"rewriter, {name}": (lambda r=r: r.rewrite(text, sp)) for name, r in rws.items()})
        units["rewriter"] = (len(sp), "spans/s")
    outs = {name: f() for name, f in jobs.items()}  # warm-up, and the outputs to compare
    speeds = {name: [] for name in jobs}
    for _ in range(a.rounds):
        for name, f in jobs.items():
            t = time.perf_counter()
            f()
            speeds[name].append(time.perf_counter() - t)
    print(f"{a.rounds} rounds, {a.threads} thread(s), load average {os.getloadavg()[0]:.1f}")
    for name, ts in speeds.items():
        n, unit = units["rewriter" if name.startswith("rewriter") else "detector"]
        v = [n / t for t in ts]
        label = name if name.startswith("rewriter") else f"detector, {name}"
        print(f"{label:28} median {statistics.median(v):6.1f} {unit}  ({' '.join(f'{x:.0f}' for x in v)})")
    names = list(dets)
    (_, p1), (_, p2) = outs[names[0]], outs[names[1]]
    gap = max((abs(x - y) for a1, a2 in zip(p1, p2) for w1, w2 in zip(a1, a2) for x, y in zip(w1, w2)), default=0.0)
    print(f"detector: largest difference in a word probability {gap:.2g}")
    if not a.skip_rewriter:
        e1, e2 = (outs[f"rewriter, {n}"] for n in names)
        diff = sum((x.after, x.applied) != (y.after, y.applied) for x, y in zip(e1, e2))
        print(f"rewriter edits that differ (after or applied): {diff} of {len(e1)}")


if __name__ == "__main__":
    main()
