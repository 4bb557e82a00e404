"""Spinner simulator: clean corpus documents -> (spun, original, aligned spans) records.

    .venv/bin/python scripts/spin.py                      # data/synth/{train,dev,test,test-small}.jsonl + READY
    .venv/bin/python scripts/spin.py --splits dev test    # only some splits
    .venv/bin/python scripts/spin.py --docs my.jsonl --out /tmp/s --splits test   # spin any {"id","text"} JSONL

Seeded and reproducible: each document's randomness derives from (--seed, split, doc id) alone.
Families: dictionary (news rewriter), thesaurus (SpinBot-like, mythes-en-us), tortured (PPS list of the
same split), mt (duplicated words, swapped adjectives, calques); "none" chunks stay clean.
Needs: apt-get install -y mythes-en-us wordnet-base; pip install lemminflect.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spinlib import VERSION  # noqa: E402
from spinlib.data import ROOT, iter_docs, pps_map  # noqa: E402
from spinlib.families import Spinner, chunks  # noqa: E402
from spinlib.thesaurus import MYTHES, Thesaurus, ThesaurusMissing, load_mythes  # noqa: E402

DOC_FAMILIES = {"none": 0.2, "dictionary": 0.25, "thesaurus": 0.25, "tortured": 0.15, "mt": 0.15}
PER_DOC = {"train": 12, "dev": 6, "test": 6}
SMALL_PER_FAMILY = 250


def word_freq(path: Path, limit_chars: int = 60_000_000) -> dict[str, int]:
    """Lower-case word counts over train documents (cached): keeps thesaurus picks to real words."""
    if path.exists():
        return json.loads(gzip.decompress(path.read_bytes()))
    c, n = Counter(), 0
    for _src, _reg, _id, text in iter_docs("train"):
        c.update(w.lower() for w in re.findall(r"[A-Za-z]+", text))
        n += len(text)
        if n > limit_chars:
            break
    freq = {w: k for w, k in c.items() if k >= 2}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps(freq).encode()))
    return freq


def spin_doc(spinner: Spinner, split: str, doc_id: str, text: str, seed: int, per_doc: int,
             meta: dict) -> list[dict]:
    rng = random.Random(f"{seed}:{split}:{doc_id}")
    fams, weights = zip(*DOC_FAMILIES.items())
    family = rng.choices(fams, weights)[0]
    intensity = round(0.05 + 0.9 * rng.betavariate(1.5, 1.5), 2)
    cs = chunks(text, rng)
    if len(cs) > per_doc:
        keep = sorted(rng.sample(range(len(cs)), per_doc))
        cs = [cs[i] for i in keep]
    out = []
    for k, chunk in enumerate(cs):
        fam = family
        if family != "none" and spinner.pps_matches(chunk) and (family == "tortured" or rng.random() < 0.2):
            fam = "tortured"
        spun, spans = spinner.spin(chunk, fam, intensity, rng)
        rec_fam = fam if spans else "none"
        out.append({"id": f"{doc_id}#{k}", "split": split, "family": rec_fam,
                    "intensity": intensity if spans else 0.0, "generator": VERSION, **meta,
                    "original": chunk, "spun": spun, "spans": spans})
    return out


def write_jsonl(path: Path, records) -> int:
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    os.replace(tmp, path)
    return n


def small_set(records: list[dict], seed: int, per_family: int = SMALL_PER_FAMILY) -> list[dict]:
    """A fixed, family-balanced subset for the default harness run."""
    rng = random.Random(f"{seed}:small")
    by = {}
    for r in records:
        by.setdefault(r["family"], []).append(r)
    out = []
    for fam in sorted(by):
        rs = by[fam]
        out.extend(rng.sample(rs, min(per_family, len(rs))))
    return sorted(out, key=lambda r: r["id"])


def write_manifest(out: Path, seed: int) -> None:
    """manifest.json beside the splits: generator version, seed, record and family counts."""
    m = {"generator": VERSION, "seed": seed, "splits": {}}
    for p in sorted(out.glob("*.jsonl")):
        fams, n = Counter(), 0
        with open(p, encoding="utf-8") as f:
            for line in f:
                fams[json.loads(line)["family"]] += 1
                n += 1
        m["splits"][p.stem] = {"records": n, "families": dict(sorted(fams.items()))}
    (out / "manifest.json").write_text(json.dumps(m, indent=1) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--splits", nargs="+", default=["dev", "test", "train"])
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "synth")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--docs", type=Path, help="spin this {id,text} JSONL instead of the corpora split")
    ap.add_argument("--thesaurus", type=Path, default=MYTHES, help="mythes .dat file")
    ap.add_argument("--max-docs", type=int, default=0, help="stop after N documents per split (0 = all)")
    ap.add_argument("--per-doc", type=int, default=0, help="chunks per document (default: train 12, dev/test 6)")
    a = ap.parse_args(argv)
    try:
        entries = load_mythes(a.thesaurus)
    except ThesaurusMissing as err:
        print(f"spin.py: {err}", file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    freq = word_freq(a.out / "wordfreq.json.gz") if a.docs is None else {}
    th = Thesaurus(entries, freq)
    for split in a.splits:
        t0 = time.time()
        spinner = Spinner(th, pps_map(split if split in ("train", "dev", "test") else "test"))
        if a.docs:
            docs = ((("user", "user", d["id"], d["text"])) for d in map(json.loads, open(a.docs, encoding="utf-8")))
        else:
            docs = iter_docs(split)
        per_doc = a.per_doc or PER_DOC.get(split, 6)
        records = []
        for n, (src, reg, doc_id, text) in enumerate(docs):
            if a.max_docs and n >= a.max_docs:
                break
            records.extend(spin_doc(spinner, split, doc_id, text, a.seed, per_doc, {"source": src, "register": reg}))
        count = write_jsonl(a.out / f"{split}.jsonl", records)
        fams = Counter(r["family"] for r in records)
        print(f"{split}: {count} records {dict(sorted(fams.items()))} in {time.time() - t0:.0f}s", flush=True)
        if split == "test":
            write_jsonl(a.out / "test-small.jsonl", small_set(records, a.seed))
    if not a.docs and {"train", "dev", "test"} <= set(a.splits):
        write_manifest(a.out, a.seed)
        (a.out / "READY").write_text(VERSION + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
