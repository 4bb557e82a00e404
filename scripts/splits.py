"""Write the fixed split manifests in scripts/data/ (run once; the files are committed).

    .venv/bin/python scripts/splits.py

splits.json: dev/test document ids of ../shared/corpora (train = every other non-eval-only id),
  rule md5(id) % 100: <90 train, 90-94 dev, >=95 test. eval-only/ (BBC) and the seeds are never trained on.
pps_split.json: the PPS list split by *normalised expected phrase*, so all variants of one target share
  a split: md5("pps:" + phrase) % 100: <10 test, 10-19 dev, else train.
"""

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spinlib import VERSION  # noqa: E402
from spinlib.data import (MANIFESTS, PPS_JSON, SPLITS_JSON, doc_split, iter_docs, pps_rows,  # noqa: E402
                          pps_split_of)


def main() -> None:
    ids = {"dev": {}, "test": {}}
    counts = Counter()
    words = Counter()
    for src, reg, doc_id, text in iter_docs():
        s = doc_split(doc_id)
        counts[f"{src}/{s}"] += 1
        words[s] += len(text.split())
        if s != "train":
            ids[s].setdefault(src, []).append(doc_id)
    MANIFESTS.mkdir(parents=True, exist_ok=True)
    SPLITS_JSON.write_text(json.dumps({
        "generator": VERSION, "rule": "md5(id)[:8] as int % 100: <90 train, 90-94 dev, >=95 test",
        "documents": dict(sorted(counts.items())), "words": dict(words),
        "dev": ids["dev"], "test": ids["test"]}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    rows = pps_rows()
    phrases = sorted({r["norm"] for r in rows if r["norm"]})
    assign = {p: pps_split_of(p) for p in phrases}
    per = Counter(assign.values())
    rows_per = Counter(assign[r["norm"]] for r in rows if r["norm"])
    PPS_JSON.write_text(json.dumps({
        "generator": VERSION, "rule": 'md5("pps:" + normalised expected)[:8] as int % 100: <10 test, 10-19 dev, else train',
        "phrases": dict(per), "rows": dict(rows_per),
        "dev": [p for p in phrases if assign[p] == "dev"],
        "test": [p for p in phrases if assign[p] == "test"]}, indent=1) + "\n", encoding="utf-8")
    print(f"documents: {dict(sorted(counts.items()))}\nwords: {dict(words)}\npps phrases: {dict(per)}, rows: {dict(rows_per)}")


if __name__ == "__main__":
    main()
