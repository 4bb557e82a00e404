"""Corpora, document splits and the PPS expected-phrase split (manifests in scripts/data/)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
CORPORA = SHARED / "corpora"
PPS_CSV = SHARED / "data" / "pps" / "tortured.csv"
MANIFESTS = ROOT / "scripts" / "data"
SPLITS_JSON = MANIFESTS / "splits.json"
PPS_JSON = MANIFESTS / "pps_split.json"
# source name (file stem or folder) -> register; eval-only sources never feed training
REGISTERS = {"wikipedia-2015": "encyclopedic", "factbook": "encyclopedic", "un-debates": "speeches",
             "us-presidential-speeches": "speeches", "openstax-us-history": "textbook",
             "openstax-world-history": "textbook", "bbc-news-2004": "news"}
EVAL_ONLY = {"bbc-news-2004"}


def need_shared(path: Path) -> Path:
    if not path.exists():
        raise SystemExit(f"{path} is missing: this step needs the read-only ../shared data next to the repo")
    return path


def bucket(key: str) -> int:
    return int(hashlib.md5(key.encode("utf-8")).hexdigest()[:8], 16) % 100


def doc_split(doc_id: str) -> str:
    b = bucket(doc_id)
    return "train" if b < 90 else "dev" if b < 95 else "test"


def corpus_files(corpora: Path = CORPORA) -> list[tuple[str, Path]]:
    """(source, file) pairs in a fixed order."""
    out = []
    for p in sorted(need_shared(corpora).rglob("*.jsonl.gz")):
        rel = p.relative_to(corpora)
        src = rel.parts[-2] if len(rel.parts) > 1 and rel.parts[0] != "eval-only" else p.name[: -len(".jsonl.gz")]
        out.append((src, p))
    return out


def iter_docs(split: str | None = None, sources: set[str] | None = None, corpora: Path = CORPORA):
    """Yield (source, register, id, text). split=None: every document; eval-only sources are only
    yielded when asked for by name."""
    for src, path in corpus_files(corpora):
        if sources is not None and src not in sources:
            continue
        if sources is None and src in EVAL_ONLY:
            continue
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                if split is None or src in EVAL_ONLY or doc_split(d["id"]) == split:
                    yield src, REGISTERS.get(src, "other"), d["id"], d["text"]


# -- PPS --------------------------------------------------------------------------------------
_NOTE = re.compile(r"\[[^\]]*\]|\([^)]*\)|\?")


def norm_expected(s: str) -> str:
    return " ".join(_NOTE.sub(" ", s).lower().split()).strip(" .,;")


def pps_rows(path: Path = PPS_CSV) -> list[dict]:
    """Rows with the first quoted phrase of the query as `tortured` and the normalised expected."""
    rows = []
    with open(need_shared(path), encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            q = r["tortured_phrase"]
            m = re.search(r'"([^"]+)"', q)
            tortured = (m.group(1) if m else q).strip()
            rows.append({"query": q, "tortured": tortured, "expected": r["expected_phrase"],
                         "norm": norm_expected(r["expected_phrase"]),
                         "near": "~" in q, "and": " AND " in q, "not": " NOT " in q})
    return rows


def pps_split_of(norm: str) -> str:
    b = bucket("pps:" + norm)
    return "test" if b < 10 else "dev" if b < 20 else "train"


def load_pps_split() -> dict[str, str]:
    """norm expected phrase -> split, from the committed manifest (train = everything not listed)."""
    m = json.loads(PPS_JSON.read_text(encoding="utf-8"))
    return {**{k: "dev" for k in m["dev"]}, **{k: "test" for k in m["test"]}}


def pps_map(split: str, rows: list[dict] | None = None) -> dict[str, list[str]]:
    """expected -> tortured variants for one split, only clean plain phrases the simulator can use."""
    assign = load_pps_split()
    out: dict[str, list[str]] = {}
    for r in rows if rows is not None else pps_rows():
        if assign.get(r["norm"], "train") != split or r["not"]:
            continue
        exp, tor = r["norm"], r["tortured"].lower()
        if not re.fullmatch(r"[a-z][a-z\- ]*[a-z]", exp) or len(exp) < 4 or not re.fullmatch(r"[a-z][a-z\- ]*[a-z]", tor):
            continue
        if tor != exp:
            out.setdefault(exp, [])
            if tor not in out[exp]:
                out[exp].append(tor)
    return out


def tortured_source(span: dict, pps: dict[str, list[str]]) -> str:
    """Where a simulated tortured span comes from: "pps" when the simulator took it from the PPS list
    (`pps` is pps_map() of the record's split), "collocation" when it made it word by word from the
    thesaurus (Spinner.collocations). Most test spans are collocations: report the two apart."""
    return "pps" if span["before"].lower() in pps.get(span["after"].lower(), ()) else "collocation"


def tortured_sources(split: str):
    """`tortured_source` for the simulated spans of one split (span -> "pps" or "collocation"), or
    None when the PPS list in ../shared is absent."""
    try:
        pps = pps_map(split)
    except SystemExit:
        return None
    return lambda span: tortured_source(span, pps)
