"""Mine hard negatives for the detector: clean sentences a detector flags with confidence.

    .venv/bin/python scripts/mine_negatives.py --models runs/detector4/models --minutes 20 \
        --out data/hard_negatives.jsonl

Reads the clean corpora's *train* split (never dev/test, never eval-only sources), takes an
evenly spread sample of documents (a hash of the id, so every source contributes), runs the
detector sentence by sentence and keeps each sentence with a word at p >= --min-p as
{"text", "source", "id", "p", "word"}. scripts/train_detector.py --hard-negatives trains on them
as all-clean segments: the confident false flags a clean-prose constraint punishes most.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from cleaner import detector as D  # noqa: E402
from cleaner.textio import atomic_write_bytes  # noqa: E402
from spinlib.data import EVAL_ONLY, corpus_files, iter_docs  # noqa: E402


def confident_flag(text: str, probs, min_p: float) -> tuple[float, str] | None:
    """(p, word) of the most confidently flagged word of a clean sentence, or None when no word
    reaches min_p or the sentence repeats a word: an immediate repetition ("In the the 7th
    century") is a real error even in these corpora and must stay flaggable, so such a sentence is
    never taught as clean."""
    ws = D.words(text)
    low = [text[a:b].lower() for a, b in ws]
    if any(x == y and x.isalpha() for x, y in zip(low, low[1:])):
        return None
    hits = [(round(1 - p[0], 4), text[a:b]) for (a, b), p in zip(ws, probs) if text[a].isalnum() and 1 - p[0] >= min_p]
    return max(hits) if hits else None


def round_robin():
    """Train documents, alternating between sources so a time budget samples all of them."""
    its = [iter_docs("train", {s}) for s in sorted({s for s, _ in corpus_files()} - EVAL_ONLY)]
    while its:
        for it in list(its):
            doc = next(it, None)
            if doc is None:
                its.remove(it)
            else:
                yield doc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=None, help="models dir holding detector/ (default: shipped)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--every", type=int, default=8, help="keep 1 document in this many (by id hash)")
    ap.add_argument("--max-chars", type=int, default=4000, help="read at most this much of a document")
    ap.add_argument("--min-p", type=float, default=0.9)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    det = D.load_detector(args.models)
    if det is None:
        sys.exit(f"no detector: {D.why_not}")
    t0, n_sent, n_words, kept = time.time(), 0, 0, []
    batch = []

    def flush():
        nonlocal n_sent, n_words
        _, probs = det.word_probs([s for s, _, _ in batch])
        for (text, src, did), ps in zip(batch, probs):
            n_sent += 1
            n_words += len(D.words(text))
            hit = confident_flag(text, ps, args.min_p)
            if hit:
                kept.append({"text": text, "source": src, "id": did, "p": hit[0], "word": hit[1]})
        batch.clear()

    for src, _reg, did, text in round_robin():
        if int(hashlib.md5(did.encode()).hexdigest()[:8], 16) % args.every:
            continue
        text = text[:args.max_chars]
        ws = D.words(text)
        for i, j in D.segments(text, ws):
            if j - i >= 4:
                batch.append((text[ws[i][0]:ws[j - 1][1]], src, did))
        if len(batch) >= 512:
            flush()
            if time.time() - t0 > args.minutes * 60:
                break
    if batch:
        flush()
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept)
    atomic_write_bytes(Path(args.out), lines.encode("utf-8"))
    print(f"{n_sent} sentences, {n_words} words, {len(kept)} with a word at p >= {args.min_p} "
          f"({1e4 * len(kept) / max(n_words, 1):.2f} per 10k words) -> {args.out} "
          f"in {(time.time() - t0) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
