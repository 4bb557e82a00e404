"""Evaluate the shipped detector: synthetic test split per family, clean prose flag rate, speed.

    .venv/bin/python scripts/eval_detector.py --make-clean test data/clean/test.jsonl   # once
    .venv/bin/python scripts/eval_detector.py --data data/synth --split test \
        --clean data/clean/test.jsonl ../shared/corpora/eval-only/bbc-news-2004.jsonl.gz --threads 2 \
        --out runs/detector/eval.json

Span metrics: a predicted span is correct when it overlaps a gold span ("overlap" P/R/F1, the
phrase-detection numbers), or when its offsets equal a gold span ("exact" F1). Clean prose: spans
flagged per 10,000 words (words = alphanumeric tokens). Speed: sentences per second through
`Detector.detect_batch` on clean sentences, with the peak RSS of this process.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cleaner import detector as D  # noqa: E402
from cleaner.textio import atomic_write_bytes  # noqa: E402
from scripts.train_detector import join_articles, read_jsonl  # noqa: E402


def prf(tp_p: int, n_pred: int, tp_g: int, n_gold: int) -> dict:
    p, r = tp_p / max(n_pred, 1), tp_g / max(n_gold, 1)
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / max(p + r, 1e-9), 4),
            "pred": n_pred, "gold": n_gold}


def span_counts(pred, gold: list[tuple[int, int]]) -> tuple[int, int, int, int, int]:
    """(predicted spans overlapping gold, predicted, gold spans overlapped, gold, exact matches)."""
    return (sum(1 for s in pred if any(a < s.end and s.start < b for a, b in gold)), len(pred),
            sum(1 for a, b in gold if any(a < s.end and s.start < b for s in pred)), len(gold),
            len({(s.start, s.end) for s in pred} & set(gold)))


def eval_synth(det, path: Path, limit: int | None) -> dict:
    recs = list(read_jsonl(path, limit))
    outs = det.detect_batch([r["spun"] for r in recs])
    fams: dict[str, dict] = {}
    doc = []
    for r, o in zip(recs, outs):
        gold = [(s["start"], s["end"]) for s in r["spans"] if s["end"] > s["start"]]
        f = fams.setdefault(r["family"], {"pp": 0, "np": 0, "gp": 0, "ng": 0, "ex": 0, "wtp": 0, "wp": 0, "wg": 0,
                                          "words": 0})
        for k, v in zip(("pp", "np", "gp", "ng", "ex"), span_counts(o.spans, gold)):
            f[k] += v
        flagged = [(s.start, s.end) for s in o.spans]
        for s, e, _ in o.words:
            if not r["spun"][s].isalnum():
                continue
            f["words"] += 1
            g = any(a < e and s < b for a, b in gold)
            p = any(a < e and s < b for a, b in flagged)
            f["wtp"] += g and p
            f["wp"] += p
            f["wg"] += g
        doc.append((o.doc_score, 1 if gold else 0))
    res = {}
    for fam, f in sorted(fams.items()):
        res[fam] = {"docs": sum(1 for r in recs if r["family"] == fam), "words": f["words"],
                    "span_overlap": prf(f["pp"], f["np"], f["gp"], f["ng"]),
                    "span_exact_f1": round(2 * f["ex"] / max(f["np"] + f["ng"], 1), 4),
                    "word": prf(f["wtp"], f["wp"], f["wtp"], f["wg"]),
                    "flags_per_10k_words": round(1e4 * f["np"] / max(f["words"], 1), 2) if fam == "none" else None}
    # Tortured spans by source: the PPS list's own phrases, or the simulator's thesaurus collocations.
    split = path.stem.split("-")[0]
    if split in ("train", "dev", "test") and any(r["family"] == "tortured" for r in recs):
        sys.path.insert(0, str(ROOT / "scripts"))
        from spinlib.data import tortured_sources

        source, by = tortured_sources(split), {}  # None without ../shared: no split then
        for r, o in zip(recs, outs) if source is not None else ():
            for sp in r["spans"]:
                if sp.get("family") == "tortured":
                    c = by.setdefault("tortured:" + source(sp), [0, 0])
                    c[0] += 1
                    c[1] += span_counts(o.spans, [(sp["start"], sp["end"])])[2]
        res.update({k: {"gold": n, "recall": round(hit / max(n, 1), 4)} for k, (n, hit) in sorted(by.items())})
    # Clean originals of the same documents: the strictest false-positive test (same topics).
    origs = [r["original"] for r in recs if r["spans"]]
    res["originals"] = clean_rate(det, origs)
    res["doc_auc"] = auc(doc)
    return res


def eval_articles(det, path: Path, n: int) -> dict:
    """n source documents of the split with their records joined back into articles (all families
    mixed, as the records of one document come): span metrics, and flags on their originals."""
    import random

    spun, clean = join_articles(path, n, random.Random(0))
    outs = det.detect_batch([a["spun"] for a in spun])
    pp = npred = gp = ngold = ex = 0
    for a, o in zip(spun, outs):
        gold = [(s["start"], s["end"]) for s in a["spans"] if s["end"] > s["start"]]
        c = span_counts(o.spans, gold)
        pp, npred, gp, ngold, ex = (x + y for x, y in zip((pp, npred, gp, ngold, ex), c))
    docs = sorted(o.doc_score for o in outs)
    return {"articles": len(spun), "span_overlap": prf(pp, npred, gp, ngold),
            "span_exact_f1": round(2 * ex / max(npred + ngold, 1), 4),
            "median_doc_score": round(docs[len(docs) // 2], 4) if docs else None,
            "originals": clean_rate(det, clean)}


def clean_rate(det, texts: list[str]) -> dict:
    outs = det.detect_batch(texts)
    n_words = sum(1 for t in texts for s, e in D.words(t) if t[s].isalnum())
    n_flags = sum(len(o.spans) for o in outs)
    examples = [t[s.start:s.end] for t, o in zip(texts, outs) for s in o.spans][:15]
    docs = [o.doc_score for o in outs]
    return {"docs": len(texts), "words": n_words, "flags": n_flags,
            "flags_per_10k_words": round(1e4 * n_flags / max(n_words, 1), 3),
            "mean_doc_score": round(sum(docs) / max(len(docs), 1), 4),
            "docs_over_0.5": sum(1 for d in docs if d > 0.5), "examples": examples}


def auc(pairs) -> float | None:
    pos = [s for s, y in pairs if y]
    neg = [s for s, y in pairs if not y]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return round(wins / (len(pos) * len(neg)), 4)


def bench_sentences(texts, n_sent: int) -> list[str]:
    """The first `n_sent` sentences of at least 3 words of these texts (the speed run's input)."""
    sents = []
    for t in texts:
        ws = D.words(t)
        sents += [t[ws[i][0]:ws[j - 1][1]] for i, j in D.segments(t, ws) if j - i >= 3]
        if len(sents) >= n_sent:
            break
    return sents[:n_sent]


def bench(det, texts: list[str], n_sent: int, passes: int = 5) -> dict:
    """Sentences/s of `detect_batch` over the bench sentences: the median of `passes` passes, since
    this machine's speed drifts by tens of percent within minutes."""
    sents = bench_sentences(texts, n_sent)
    det.detect_batch(sents[:64])  # warm-up
    times = []
    for _ in range(passes):
        t0 = time.perf_counter()
        det.detect_batch(sents)
        times.append(time.perf_counter() - t0)
    dt = statistics.median(times)
    return {"sentences": len(sents), "mean_words": round(sum(len(D.words(s)) for s in sents) / len(sents), 1),
            "passes": passes, "seconds": round(dt, 2), "sentences_per_s": round(len(sents) / dt, 1),
            "sentences_per_s_range": [round(len(sents) / max(times), 1), round(len(sents) / min(times), 1)],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def make_clean(split: str, out: Path, per_source: int, max_chars: int = 3000) -> None:
    """Held-out clean prose: `per_source` documents of each corpus's `split` (hash order), each cut
    to its first paragraphs up to `max_chars`, written as {"id","source","text"} JSONL."""
    import hashlib

    sys.path.insert(0, str(ROOT / "scripts"))
    from spinlib.data import iter_docs

    by: dict[str, list] = {}
    for src, _reg, did, text in iter_docs(split):
        by.setdefault(src, []).append((hashlib.md5(did.encode()).hexdigest(), did, text))
    lines = []
    for src in sorted(by):
        for _h, did, text in sorted(by[src])[:per_source]:
            keep, n = [], 0
            for para in text.split("\n"):
                if keep and n + len(para) > max_chars:
                    break
                keep.append(para)
                n += len(para) + 1
            lines.append(json.dumps({"id": did, "source": src, "text": "\n".join(keep)}, ensure_ascii=False))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, ("\n".join(lines) + "\n").encode("utf-8"))
    print(f"{out}: {len(lines)} documents from {sorted(by)}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=None, help="models dir (default: the shipped models/)")
    ap.add_argument("--data", default="data/synth")
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=None, help="records of the split to evaluate")
    ap.add_argument("--articles", type=int, default=0,
                    help="also evaluate N documents of --articles-split joined into articles")
    ap.add_argument("--articles-split", default="test")
    ap.add_argument("--clean", nargs="*", default=[], help="clean JSONL(.gz) files with a `text` field")
    ap.add_argument("--clean-docs", type=int, default=300)
    ap.add_argument("--bench", type=int, default=2000, help="sentences for the speed run (0: skip)")
    ap.add_argument("--bench-passes", type=int, default=5, help="passes of the speed run; the median counts")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    ap.add_argument("--make-clean", nargs=2, metavar=("SPLIT", "OUT"),
                    help="only write a held-out clean-prose sample of the corpora's SPLIT to OUT")
    ap.add_argument("--per-source", type=int, default=40, help="documents per corpus for --make-clean")
    args = ap.parse_args(argv)
    if args.make_clean:
        make_clean(args.make_clean[0], Path(args.make_clean[1]), args.per_source)
        return

    import torch

    torch.set_num_threads(args.threads)
    det = D.load_detector(args.models)
    if det is None:
        sys.exit(f"no detector: {D.why_not}")
    res = {"version": det.version, "threshold": det.threshold, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "command": "python scripts/eval_detector.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    split = Path(args.data) / f"{args.split}.jsonl"
    if split.is_file():
        res["synth"] = eval_synth(det, split, args.limit)
    if args.articles:
        res["articles"] = eval_articles(det, Path(args.data) / f"{args.articles_split}.jsonl", args.articles)
    clean_texts = []
    for c in args.clean:
        texts = [r["text"] for r in read_jsonl(Path(c), args.clean_docs)]
        clean_texts += texts
        res.setdefault("clean", {})[Path(c).name] = clean_rate(det, texts)
    if args.bench and clean_texts:
        res["speed"] = bench(det, clean_texts, args.bench, args.bench_passes)
    print(json.dumps(res, indent=1))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
