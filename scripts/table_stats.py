"""Clean-corpus evidence for the phrase tables: counts, priors, and false-positive rates.

    .venv/bin/python scripts/table_stats.py count      # hits per entry, train split -> scripts/data/clean_counts.tsv
    .venv/bin/python scripts/table_stats.py apply      # priors of news-spinner.tsv / mt.tsv from those counts
    .venv/bin/python scripts/table_stats.py eval       # held-out clean text: hits and applied edits per 10k words

Split: spinlib.data.doc_split, md5(doc id)[:8] % 100 < 90 = train (the project's shared rule); the
eval-only BBC news is never counted for priors, only used by `eval` with the dev/test documents.
Counting runs every entry's own guards (prev/next/and/not/near) on each match, so a guarded entry
is counted only where it would fire. Prior from the rate r (hits per million words):
r = 0 -> 0.99, <= 0.05 (one or two hits) -> 0.75, <= 0.2 -> 0.6, <= 0.5 -> 0.5, <= 2 -> 0.4,
<= 10 -> 0.3, <= 50 -> 0.25, else 0.2. `apply` only lowers a prior (the table author's prior is an upper bound,
because the clean corpora have no news register for some legitimate uses); tortured.tsv takes
its priors from convert_pps.py, which reads the same counts file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from cleaner.matcher import Matcher, _bounded, normalise  # noqa: E402
from cleaner.tables import Entry, load_table, parse_table  # noqa: E402
from convert_pps import COUNTS, convert, prior_for_rate  # noqa: E402
from spinlib.data import doc_split, iter_docs  # noqa: E402

TABLES = ROOT / "models" / "tables"
SEEDS = ROOT.parent / "shared" / "seeds"
EDITABLE = ("news-spinner", "mt")     # tables whose priors `apply` sets (tortured: convert_pps.py)
BANDS = ((0.9, ">=0.90"), (0.8, "0.80-0.90"), (0.5, "0.50-0.80"), (0.25, "0.25-0.50"), (0.0, "<0.25"))


def opts_str(e: Entry) -> str:
    return ";".join(f"{k}={v}" if v else k for k, v in e.options)


def entry_key(e: Entry) -> str:
    return f"{e.table}|{e.spun}|{opts_str(e)}"


def all_entries() -> list[Entry]:
    """The shipped tables, with tortured.tsv regenerated without counts (so new rows are counted)."""
    out = []
    for name in EDITABLE:
        out += load_table(TABLES / f"{name}.tsv").entries
    text, _ = convert(counts=None)
    out += parse_table(text, "tortured")[0].entries
    return out


def count_hits(m: Matcher, text: str, counts: Counter) -> None:
    """Count every entry whose guards pass at every bounded match (not just the winner)."""
    norm = normalise(text)
    for start, end, key, entries in m.raw(norm):
        if not _bounded(norm, start, end):
            continue
        for e in entries:
            if m._guards_ok(e, text, norm, start, end):
                counts[entry_key(e)] += 1
        for e in m.near.get(key, ()):
            if m._near_hit(e, norm, start):
                counts[entry_key(e)] += 1


def cmd_count(a) -> None:
    entries = all_entries()
    m = Matcher(entries)
    counts: Counter = Counter()
    words = docs = 0
    t0 = time.time()
    for src, _reg, _id, text in iter_docs(split="train"):
        words += len(text.split())
        docs += 1
        count_hits(m, text, counts)
        if docs % 20000 == 0:
            print(f"{docs} docs, {words / 1e6:.1f}M words, {time.time() - t0:.0f}s", flush=True)
    lines = [f"# clean-corpus hits per table entry: {docs} train documents, {words} words of ../shared/corpora",
             "# (split md5(id)[:8] % 100 < 90, eval-only excluded); written by scripts/table_stats.py count",
             f"# {len(entries)} entries counted; only those with hits are listed (absent = 0 hits)",
             "# table<TAB>spun<TAB>options<TAB>hits<TAB>per_million_words"]
    for e in sorted(entries, key=lambda e: (e.table, e.spun.casefold(), opts_str(e))):
        k = entry_key(e)
        if counts[k]:
            lines.append(f"{e.table}\t{e.spun}\t{opts_str(e)}\t{counts[k]}\t{counts[k] * 1e6 / max(words, 1):.4f}")
    COUNTS.parent.mkdir(parents=True, exist_ok=True)
    COUNTS.write_text("\n".join(dict.fromkeys(lines)) + "\n", encoding="utf-8")
    print(f"wrote {COUNTS}: {docs} docs, {words} words, {sum(counts.values())} hits, {time.time() - t0:.0f}s")


def cmd_apply(a) -> None:
    from convert_pps import load_counts
    counts = load_counts()
    if counts is None:
        raise SystemExit(f"{COUNTS} missing: run `table_stats.py count` first")
    from cleaner.textio import atomic_write_bytes
    for name in EDITABLE:
        path = TABLES / f"{name}.tsv"
        head, out, changed = [], [], 0
        for line in path.read_text(encoding="utf-8").split("\n"):
            cols = line.split("\t")
            if line.startswith("#"):
                head.append(line)
                continue
            if len(cols) < 3:
                continue
            rate = counts.get(f"{name}|{cols[0]}|{cols[3] if len(cols) > 3 else ''}", 0.0)
            new = min(float(cols[2]), prior_for_rate(rate))
            if f"{new:g}" != cols[2]:
                changed += 1
                cols[2] = f"{new:g}"
            out.append("\t".join(cols))
        out.sort(key=str.casefold)     # a changed prior can reorder two readings of one phrase
        atomic_write_bytes(path, ("\n".join(head + out) + "\n").encode("utf-8"))
        print(f"{path}: {changed} priors lowered")


def band(p: float) -> str:
    return next(label for lim, label in BANDS if p >= lim)


def cmd_eval(a) -> None:
    """Held-out clean prose: raw table hits by prior band, and what the Cleaner would apply."""
    from cleaner import Cleaner
    c = Cleaner(stages=("tables", "mt"))
    sources = [("dev+test", (t for s, _r, i, t in iter_docs() if doc_split(i) != "train")),
               ("bbc-news (eval-only)", (t for _s, _r, _i, t in iter_docs(sources={"bbc-news-2004"}))),
               ("seeds 003+004", (p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("00[34]_*.txt"))))]
    report = {}
    for label, texts in sources:
        words, hits, applied, reported = 0, Counter(), Counter(), Counter()
        examples = defaultdict(Counter)
        n = 0
        for text in texts:
            n += 1
            if a.limit and n > a.limit:
                break
            words += len(text.split())
            for h in c.matcher.find(text):         # raw table hits, whatever the policy decides
                hits[band(h.entry.prior)] += 1
            r = c.clean(text)
            for e in r.edits:
                (applied if e.applied else reported)[e.kind] += 1
                if e.applied:
                    examples[e.source][f"{e.before} -> {e.after}"] += 1
                    if a.show:
                        print(f"  {label}: {text[max(0, e.start - 50):e.start]}[[{e.before} -> {e.after}]]"
                              f"{text[e.end:e.end + 30]}".replace("\n", " "), flush=True)
        per10k = lambda x: round(x * 1e4 / max(words, 1), 3)  # noqa: E731
        report[label] = {"docs": n - (1 if a.limit and n > a.limit else 0), "words": words,
                         "hits_per_10k_by_prior": {b: per10k(hits[b]) for _, b in BANDS},
                         "applied_per_10k": per10k(sum(applied.values())), "applied_by_kind": dict(applied),
                         "reported_per_10k": per10k(sum(reported.values())),
                         "top_applied": Counter({k: sum(v.values()) for k, v in examples.items()}).most_common(25)}
        print(json.dumps({label: report[label]}, indent=1), flush=True)
    out = ROOT / "runs" / "table_stats" / "eval.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("count")
    sub.add_parser("apply")
    ev = sub.add_parser("eval")
    ev.add_argument("--limit", type=int, default=0, help="documents per source (0 = all)")
    ev.add_argument("--show", action="store_true", help="print every applied edit in context")
    a = ap.parse_args(argv)
    {"count": cmd_count, "apply": cmd_apply, "eval": cmd_eval}[a.cmd](a)


if __name__ == "__main__":
    main()
