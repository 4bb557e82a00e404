"""Calibrate the detector's long-document rule on dev articles, and optionally write it.

    .venv/bin/python scripts/calibrate_long.py                          # grid on dev, print only
    .venv/bin/python scripts/calibrate_long.py --write 0.98 0.6         # into models/detector/config.json
    .venv/bin/python scripts/calibrate_long.py --types                  # + the spinner-word grid
    .venv/bin/python scripts/calibrate_long.py --types --write-types 0.9 0.02   # as shipped

In a long document whose score is already high, a lower span threshold finds the subtler spun words
("stated", "together with") that the record-level rule (0.99, or 0.8 past a document score of 0.95)
leaves. In those documents the spinners' own output words ("permit", "assertion": words the
simulator's dictionary and thesaurus spinners produced in most of their train-split occurrences)
may be flagged from a lower probability still (`--types`: the table `spin_types.tsv` is counted from
the train split, the pair share/threshold chosen here). Dev data only: 150 dev-split documents with
their records joined back into articles, and the clean dev documents of `data/clean/dev.jsonl`
(eval_detector.py --make-clean dev). A pair is acceptable only if it adds no flag on the clean
documents.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cleaner import detector as D  # noqa: E402
from cleaner.textio import atomic_write_bytes  # noqa: E402
from scripts.eval_detector import span_counts  # noqa: E402
from scripts.train_detector import join_articles, read_jsonl, version_of  # noqa: E402

GRID = [(c, t) for c in (0.97, 0.98, 0.985, 0.99) for t in (0.5, 0.6, 0.7)]
TYPE_GRID = [(s, t) for s in (0.6, 0.7, 0.8, 0.9) for t in (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)]
TYPE_FAMILIES = ("dictionary", "thesaurus")
MIN_SEEN, MIN_SHARE = 20, 0.5


def count_types(train: Path) -> list[tuple[str, int, int]]:
    """(word, occurrences inside a spun span, occurrences) over the spun text of the train split's
    dictionary and thesaurus records, for words seen MIN_SEEN+ times, at least MIN_SHARE spun."""
    spun: dict[str, int] = {}
    seen: dict[str, int] = {}
    for r in read_jsonl(train):
        if r["family"] not in TYPE_FAMILIES:
            continue
        t, spans = r["spun"], [(x["start"], x["end"]) for x in r["spans"]]
        for s, e in D.words(t):
            if t[s].isalpha():
                w = t[s:e].lower()
                seen[w] = seen.get(w, 0) + 1
                if D._overlaps(spans, s, e):
                    spun[w] = spun.get(w, 0) + 1
    return sorted((w, spun.get(w, 0), n) for w, n in seen.items()
                  if n >= MIN_SEEN and spun.get(w, 0) >= MIN_SHARE * n)


def write_types(path: Path, rows, train: Path) -> None:
    head = (f"# word<TAB>occurrences inside a spun span<TAB>occurrences: spun text of the {' and '.join(TYPE_FAMILIES)}"
            f" records of {train.name}, words seen {MIN_SEEN}+ times, at least {MIN_SHARE:.0%} spun"
            " (scripts/calibrate_long.py --types)\n")
    atomic_write_bytes(path, (head + "".join(f"{w}\t{a}\t{n}\n" for w, a, n in rows)).encode())


def score(det, cached, rule) -> tuple[int, int, int, int]:
    """(gold found, gold, correct spans, spans) over cached (text, gold, words, probs)."""
    det.long_rule = rule
    found = gold = ok = n = 0
    for text, g, ws, ps in cached:
        tp_p, n_pred, tp_g, n_gold, _ = span_counts(det._output(text, ws, ps, []).spans, g)
        found, gold, ok, n = found + tp_g, gold + n_gold, ok + tp_p, n + n_pred
    return found, gold, ok, n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=str(ROOT / "models"))
    ap.add_argument("--data", default=str(ROOT / "data" / "synth"))
    ap.add_argument("--clean", default=str(ROOT / "data" / "clean" / "dev.jsonl"))
    ap.add_argument("--articles", type=int, default=150)
    ap.add_argument("--min-words", type=int, default=150)
    ap.add_argument("--write", nargs=2, type=float, metavar=("DOC_SCORE", "THRESHOLD"))
    ap.add_argument("--types", action="store_true", help="count spin_types.tsv from the train split, grid the type rule")
    ap.add_argument("--write-types", nargs=2, type=float, metavar=("SHARE", "THRESHOLD"))
    a = ap.parse_args(argv)
    det = D.load_detector(a.models)
    if det is None:
        raise SystemExit("calibrate_long.py: no detector (torch, MiniLM or the weights are missing)")
    path = Path(a.models) / "detector"
    if a.types:
        train = Path(a.data) / "train.jsonl"
        write_types(path / D.TYPES_FILE, count_types(train), train)
        print(f"wrote {path / D.TYPES_FILE}")
    spun, _ = join_articles(Path(a.data) / "dev.jsonl", a.articles, random.Random(0))
    clean = [r["text"] for r in read_jsonl(Path(a.clean))]
    texts = [r["spun"] for r in spun] + clean
    all_ws, probs = det.word_probs(texts)
    golds = [[(x["start"], x["end"]) for x in r["spans"]] for r in spun] + [[] for _ in clean]
    cached = list(zip(texts, golds, all_ws, probs))
    arts, docs = cached[:len(spun)], cached[len(spun):]
    words = sum(len(ws) for _, _, ws, _ in docs)
    print(f"{len(spun)} dev articles, {len(clean)} clean dev documents ({words} words)")
    types = D.read_types(path / D.TYPES_FILE) if a.types else {}
    shipped, det.type_rule = det.long_rule, None
    rows = [("record rule only", None)] + [(f"score >= {c}, p >= {t}", (c, t, a.min_words)) for c, t in GRID]
    for name, rule in rows:
        f, g, ok, n = score(det, arts, rule)
        _, _, _, flags = score(det, docs, rule)
        print(f"  {name:24} recall {f / g:.3f}  precision {ok / max(1, n):.3f}  clean flags/10k {flags * 1e4 / words:.2f}")
    if types:  # on top of the long-document rule as it would be written
        rule = (a.write[0], a.write[1], a.min_words) if a.write else shipped
        print(f"spinner words ({len(types)} in {D.TYPES_FILE}), long-document rule {rule}:")
        for share, t in TYPE_GRID:
            det.type_rule = (share, t, types)
            f, g, ok, n = score(det, arts, rule)
            _, _, _, flags = score(det, docs, rule)
            print(f"  share >= {share}, p >= {t:<5} recall {f / g:.3f}  precision {ok / max(1, n):.3f}  "
                  f"clean flags/10k {flags * 1e4 / words:.2f}")
    if a.write or a.write_types:
        cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
        chosen = f"{len(spun)} dev articles, {len(clean)} clean dev documents"
        if a.write:
            cfg["doc_threshold_long"] = {"doc_score": a.write[0], "threshold": a.write[1], "min_words": a.min_words,
                                         "chosen_on": chosen}
        if a.write_types:
            sha = hashlib.sha256((path / D.TYPES_FILE).read_bytes()).hexdigest()[:16]
            cfg["doc_threshold_types"] = {"share": a.write_types[0], "threshold": a.write_types[1],
                                          "file": D.TYPES_FILE, "sha256": sha, "chosen_on": chosen}
        cfg["version"] = version_of(cfg, (path / "model.safetensors").read_bytes())
        atomic_write_bytes(path / "config.json", (json.dumps(cfg, indent=1) + "\n").encode())
        print(f"wrote {path / 'config.json'}: version {cfg['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
