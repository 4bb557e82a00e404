"""Evaluation harness: one command, a table on stdout and JSON in runs/eval/<name>.json.

    .venv/bin/python scripts/evaluate.py                 # default sets (< 10 min on 2 cores)
    .venv/bin/python scripts/evaluate.py --smoke         # seconds, committed fixtures only (CI)
    .venv/bin/python scripts/evaluate.py --configs tables --clean-words 200000

Sets: synthetic spun chunks (data/synth/test-small.jsonl, per family and intensity), whole articles
(150 spun documents of data/synth/test.jsonl with their chunks joined back), the PPS test
split (test phrases removed from the tables), held-out clean prose per register (false edits per
10,000 words, applied and flagged apart), and the seeds (002 against tests/cases/seed_002_gold.json).
Ablations: tables (+mt rules), + detector, + rewriter, models only. Stages without shipped weights
are reported as n/a. Metric definitions: docs/readme/evaluation.md.
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import hashlib
import json
import os
import random
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CONFIGS = {"tables": ("tables", "mt"), "+detector": ("tables", "mt", "detector"),
           "+rewriter": ("tables", "mt", "detector", "rewriter"), "models": ("detector", "rewriter")}
SMOKE = ROOT / "scripts" / "data" / "smoke"
SYNTH = ROOT / "data" / "synth" / "test-small.jsonl"
SEEDS = ROOT.parent / "shared" / "seeds"
GOLD = ROOT / "tests" / "cases" / "seed_002_gold.json"
CLEAN_SOURCES = {"news": ["bbc-news-2004"], "encyclopedic": ["wikipedia-2015", "factbook"],
                 "speeches": ["un-debates", "us-presidential-speeches"],
                 "textbook": ["openstax-us-history", "openstax-world-history"]}
# The phrase always ends before punctuation, so carriers cannot create duplicated words.
PPS_CARRIERS = ["In this study, we focus on {}.", "Recent work has paid considerable attention to {}.",
                "We compare the proposed approach with methods based on {}.",
                "The second part of the paper is devoted to {}, as discussed below.",
                "Table 2 summarises the results obtained with {}."]
TOK = re.compile(r"\w+|[^\w\s]")


# -- metrics ------------------------------------------------------------------------------------
def _components(gold: list[dict], edits: list) -> list[tuple[int, int, list[dict], list]]:
    """Group gold spans and applied edits that overlap (transitively) into regions of the spun text."""
    items = [("g", g["start"], g["end"], g) for g in gold] + [("e", e.start, e.end, e) for e in edits]
    items.sort(key=lambda t: (t[1], t[2]))
    comps, cur = [], None
    for kind, s, e, obj in items:
        if cur is not None and s < cur[1] or (cur is not None and s == e == cur[1]):
            cur[1] = max(cur[1], e)
            cur[2 if kind == "g" else 3].append(obj)
        else:
            cur = [s, e, [], []]
            cur[2 if kind == "g" else 3].append(obj)
            comps.append(cur)
    return [tuple(c) for c in comps]


def _orig_pos(gold: list[dict], p: int) -> int:
    """Map a spun offset outside gold span interiors to the original text."""
    return p + sum((g["orig_end"] - g["orig_start"]) - (g["end"] - g["start"]) for g in gold if g["end"] <= p)


def score_record(rec: dict, result) -> dict:
    """Counts for one synthetic record: detection over all edits, restoration over applied ones."""
    gold, spun, orig = rec["spans"], rec["spun"], rec["original"]
    edits = result.edits
    applied = [e for e in edits if e.applied]
    c = defaultdict(int)
    c["gold"] = len(gold)
    c["pred"] = len(edits)
    c["pred_applied"] = len(applied)
    c["pred_tp"] = sum(any(e.start < g["end"] and g["start"] < e.end for g in gold) for e in edits)
    c["gold_found"] = sum(any(e.start < g["end"] and g["start"] < e.end for e in edits) for g in gold)
    c["applied_tp"] = sum(any(e.start < g["end"] and g["start"] < e.end for g in gold) for e in applied)
    for s, e, gs, es in _components(gold, applied):
        out = spun[s:e]
        for ed in sorted(es, key=lambda x: -x.start):
            out = out[:ed.start - s] + ed.after + out[ed.end - s:]
        want = orig[_orig_pos(gold, s):_orig_pos(gold, e)]
        if rec.get("casefold"):  # PPS expected phrases come in any case ("Information Gain" = "information gain")
            out, want = out.casefold(), want.casefold()
        exact = bool(es) and out == want
        if gs:
            c["gold_exact"] += len(gs) if exact else 0
        if es:
            # token precision: tokens the tool wrote that agree with the original wording
            src = TOK.findall(spun[s:e].casefold() if rec.get("casefold") else spun[s:e])
            got, ref = TOK.findall(out), TOK.findall(want)
            changed = _changed(src, got)
            if changed:
                ok = _equal(got, ref)
                c["tok_changed"] += len(changed)
                c["tok_correct"] += len(changed & ok)
            else:  # pure deletion ("the the" -> "the"): one unit, right iff the region is restored
                c["tok_changed"] += 1
                c["tok_correct"] += int(exact)
    return c


def _changed(a: list[str], b: list[str]) -> set[int]:
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return {j for tag, _, _, j1, j2 in sm.get_opcodes() if tag in ("replace", "insert") for j in range(j1, j2)}


def _equal(a: list[str], b: list[str]) -> set[int]:
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return {i for tag, i1, i2, _, _ in sm.get_opcodes() if tag == "equal" for i in range(i1, i2)}


def summarise(c: dict) -> dict:
    c = defaultdict(int, c)

    def div(a, b):
        return round(a / b, 4) if b else None
    p, r = div(c["pred_tp"], c["pred"]), div(c["gold_found"], c["gold"])
    f = round(2 * p * r / (p + r), 4) if p and r else (0.0 if p is not None and r is not None else None)
    return {"records": c["records"], "gold": c["gold"], "pred": c["pred"], "precision": p, "recall": r, "f1": f,
            "applied_precision": div(c["applied_tp"], c["pred_applied"]),
            "exact": div(c["gold_exact"], c["gold"]), "token_precision": div(c["tok_correct"], c["tok_changed"]),
            "clean_applied_per_10k": div(c["clean_applied"] * 10000, c["clean_words"]),
            "clean_flagged_per_10k": div(c["clean_flagged"] * 10000, c["clean_words"])}


def bucket(x: float) -> str:
    return "light" if x < 0.35 else "medium" if x < 0.65 else "heavy"


# -- data ---------------------------------------------------------------------------------------
def read_jsonl(path: Path, limit: int = 0) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
                if limit and len(out) >= limit:
                    break
    return out


def clean_prose(words_per_register: int) -> dict[str, list[str]]:
    """Held-out clean documents: the test split of the corpora and eval-only BBC news, cut to chunks."""
    from spinlib.data import CORPORA, iter_docs
    if not CORPORA.exists():
        return {}
    out = {}
    for reg, sources in CLEAN_SOURCES.items():
        texts, n = [], 0
        per_src = words_per_register // len(sources)
        for src in sources:
            m = 0
            for _s, _r, _id, text in iter_docs("test", sources={src}):
                for para in text.split("\n"):
                    if para.strip():
                        texts.append(para)
                        m += len(para.split())
                if m >= per_src:
                    break
            n += m
        out[reg] = texts
    return out


def _every(items: list, n: int) -> list:
    """A spread-out subset of about n items (every k-th), so families and intensities stay mixed."""
    if not n or len(items) <= n:
        return items
    k = -(-len(items) // n)
    return items[::k]


def _cut(texts: list[str], words: int) -> list[str]:
    out, n = [], 0
    for t in texts:
        if n >= words:
            break
        out.append(t)
        n += len(t.split())
    return out


def _expected(s: str) -> str:
    """The PPS expected phrase without notes and quotes, case kept ("Information Gain (IG)" -> "Information Gain")."""
    s = re.sub(r"\[[^\]]*\]|\([^)]*\)|\?|[\"\\]", " ", s)
    return " ".join(s.split()).strip(" .,;")


def pps_set() -> tuple[list[dict], list[str]]:
    """PPS test-split phrases in fixed carrier sentences, and the tortured keys to exclude from the tables."""
    from convert_pps import keep_acronym
    from spinlib.data import PPS_CSV, load_pps_split, pps_rows
    if not PPS_CSV.exists():
        return [], []
    assign = load_pps_split()
    recs, exclude = [], set()
    for r in pps_rows():
        if assign.get(r["norm"], "train") != "test":
            continue
        exclude.add(r["tortured"].lower())
        if r["near"] or r["and"] or r["not"] or not r["norm"] or r["tortured"].lower() == r["norm"] or "/" in r["expected"]:
            continue  # proximity/boolean queries need more context; "a/b" expected phrases have no single answer
        h = int(hashlib.md5(r["tortured"].encode()).hexdigest()[:6], 16)
        # "artificial data (AI)" stands where the author wrote "artificial intelligence (AI)"
        tor = r["tortured"]
        exp = keep_acronym(tor, _expected(r["expected"]))
        for k in range(len(PPS_CARRIERS)):  # never "to to": the carrier's last word must differ
            pre, post = PPS_CARRIERS[(h + k) % len(PPS_CARRIERS)].split("{}")
            if pre.split()[-1].lower() not in (tor.split()[0].lower(), exp.split()[0].lower()):
                break
        recs.append({"id": f"pps:{tor}", "family": "pps", "intensity": 1.0, "casefold": True, "original": pre + exp + post,
                     "spun": pre + tor + post,
                     "spans": [{"start": len(pre), "end": len(pre) + len(tor), "orig_start": len(pre),
                                "orig_end": len(pre) + len(exp), "before": tor, "after": exp, "family": "pps"}]})
    return recs, sorted(exclude)


# -- detector operating points ------------------------------------------------------------------
SWEEP = (0.3, 0.5, 0.7, 0.9, 0.97, 0.99)


def detector_sweep(models_dir, recs: list[dict], prose: dict[str, list[str]]) -> dict | None:
    """Word probabilities of the detector alone at several fixed thresholds, plus the shipped rule
    (its spans, with the document-adaptive threshold): phrase recall and word precision on the
    synthetic set, flagged words per 10k on clean prose."""
    from cleaner.detector import load_detector
    det = load_detector(models_dir)
    if det is None:
        return None
    thr = sorted(set(SWEEP) | {round(float(getattr(det, "threshold", 0.5)), 4)}) + ["shipped rule"]
    found, pred, pred_ok, gold = defaultdict(int), defaultdict(int), defaultdict(int), 0
    for i in range(0, len(recs), 32):
        batch = recs[i:i + 32]
        for rec, out in zip(batch, det.detect_batch([r["spun"] for r in batch])):
            spans = rec["spans"]
            gold += len(spans)
            for t in thr:
                hot = _hot(out, t)
                found[t] += sum(any(a < g["end"] and g["start"] < b for a, b in hot) for g in spans)
                pred[t] += len(hot)
                pred_ok[t] += sum(any(a < g["end"] and g["start"] < b for g in spans) for a, b in hot)
    words, flagged = 0, defaultdict(int)
    texts = [t for ts in prose.values() for t in ts]
    for i in range(0, len(texts), 32):
        for out in det.detect_batch(texts[i:i + 32]):
            words += len(out.words)
            for t in thr:
                flagged[t] += len(_hot(out, t))
    return {"shipped_threshold": getattr(det, "threshold", None), "gold": gold, "clean_words": words,
            "points": [{"threshold": t, "recall": round(found[t] / gold, 4) if gold else None,
                        "word_precision": round(pred_ok[t] / pred[t], 4) if pred[t] else None,
                        "clean_flagged_words_per_10k": round(flagged[t] * 1e4 / words, 2) if words else None}
                       for t in thr]}


def _hot(out, t) -> list[tuple[int, int]]:
    """Words at p >= t, or for "shipped rule" the words inside the detector's own spans."""
    if t == "shipped rule":
        return [(a, b) for a, b, _ in out.words if any(s.start <= a and b <= s.end for s in out.spans)]
    return [(a, b) for a, b, p in out.words if p >= t]


def _at(t) -> str:
    """A sweep point's name: "p >= 0.9", or "shipped rule"."""
    return t if isinstance(t, str) else f"p >= {t}"


# -- runs ---------------------------------------------------------------------------------------
def make_cleaner(stages, exclude=(), models_dir=None):
    from cleaner import Cleaner
    from cleaner.config import Config
    c = Cleaner(config=Config(exclude_entries=list(exclude), models_dir=models_dir), stages=stages)
    r = c.clean("A short probe sentence for the stages.")
    off = [n for n in r.notices if "stage off" in n]
    return c, off


def join_articles(path: Path, n: int) -> list[dict]:
    """n spun documents of a split with their chunk records joined back into whole articles (gold
    offsets shifted), the unit the tool sees in use: the document-level evidence grows with length."""
    from train_detector import documents, join_document

    groups = documents(path)
    keys = sorted(groups)
    random.Random(0).shuffle(keys)
    out = []
    for k in keys:
        fams = [r["family"] for r in groups[k] if r["family"] != "none"]
        if not fams:
            continue
        spun, orig, spans = join_document(groups[k])
        out.append({"id": k, "family": fams[0], "intensity": max(r["intensity"] for r in groups[k]),
                    "spun": spun, "original": orig, "spans": spans})
        if len(out) >= n:
            break
    return out


def run_synth(cleaner, recs: list[dict], groups, source=None) -> dict:
    """Counts per group; `source` (spinlib.data.tortured_sources) adds the tortured spans' recall and
    exact restoration by origin, "tortured:pps" and "tortured:collocation" (a false flag has no origin,
    so these rows have no precision)."""
    agg = defaultdict(lambda: defaultdict(int))
    results = cleaner.clean_batch([r["spun"] for r in recs])
    for rec, res in zip(recs, results):
        if source is not None and rec["family"] == "tortured":
            for src in sorted({source(g) for g in rec["spans"]}):
                c = score_record({**rec, "spans": [g for g in rec["spans"] if source(g) == src]}, res)
                for n in ("gold", "gold_found", "gold_exact"):
                    agg["tortured:" + src][n] += c[n]
                agg["tortured:" + src]["records"] += 1
        c = score_record(rec, res)
        keys = ["all", "family:" + rec["family"]] + (["intensity:" + bucket(rec["intensity"])] if rec["spans"] else [])
        for k in keys:
            if k.split(":")[0] in groups or k == "all":
                for n, v in c.items():
                    agg[k][n] += v
                agg[k]["records"] += 1
                if not rec["spans"]:
                    agg[k]["clean_words"] += len(rec["spun"].split())
                    agg[k]["clean_applied"] += c["pred_applied"]
                    agg[k]["clean_flagged"] += c["pred"] - c["pred_applied"]
    return {k: summarise(v) for k, v in sorted(agg.items())}


def run_clean(cleaner, prose: dict[str, list[str]], batch: int = 64) -> dict:
    out = {}
    for reg, texts in prose.items():
        words = applied = flagged = 0
        examples = []
        for i in range(0, len(texts), batch):
            for res in cleaner.clean_batch(texts[i:i + batch]):
                words += len(res.input.split())
                for e in res.edits:
                    applied += e.applied
                    flagged += not e.applied
                    if len(examples) < 10:
                        examples.append({"before": e.before, "after": e.after, "applied": e.applied, "source": e.source})
        out[reg] = {"words": words, "applied": applied, "flagged": flagged,
                    "applied_per_10k": round(applied * 1e4 / words, 2) if words else None,
                    "flagged_per_10k": round(flagged * 1e4 / words, 2) if words else None, "examples": examples}
    return out


def run_seeds(cleaner) -> dict | None:
    if not SEEDS.exists():
        return None
    out = {}
    gold = json.loads(GOLD.read_text(encoding="utf-8")) if GOLD.exists() else None
    for p in sorted(SEEDS.glob("*.txt")):
        text = p.read_text(encoding="utf-8")
        res = cleaner.clean(text, str(p))
        app = [e for e in res.edits if e.applied]
        d = {"applied": len(app), "flagged": len(res.edits) - len(app), "spin_score": round(res.spin_score, 3)}
        if p.name.startswith("002") and gold is not None:
            spans = [(s, e, g["after"]) for g in gold for s, e in g.get("spans", [])]
            found = [any(x.start < e and s < x.end for x in app) for s, e, _ in spans]
            exact = [any(x.start <= s and e <= x.end and a in x.after for x in app) for s, e, a in spans]
            tp = sum(any(x.start < e and s < x.end for s, e, _ in spans) for x in app)
            d.update(gold=len(spans), recall=round(sum(found) / len(spans), 4), exact=round(sum(exact) / len(spans), 4),
                     precision=round(tp / len(app), 4) if app else None,
                     missed=[text[s:e] for (s, e, _), f in zip(spans, found) if not f],
                     wrong=[(x.before, x.after) for x in app if not any(x.start < e and s < x.end for s, e, _ in spans)])
        out[p.name[:3]] = d
    return out


def fmt(v, pct=True):
    if v is None:
        return "-"
    return f"{100 * v:.1f}" if pct else f"{v:.2f}"


def print_report(rep: dict) -> None:
    print(f"\n== {rep['name']}  ({rep['date']}, {rep['seconds']:.0f}s)  synth={rep['synth_file']} records={rep['synth_records']}")
    for cfg, r in rep["configs"].items():
        if r.get("status") != "ok":
            print(f"\n[{cfg}] n/a: {r.get('status')}")
            continue
        print(f"\n[{cfg}] stages={','.join(r['stages'])}  records={r['synth']['all']['records']}  ({r['seconds']:.0f}s)")
        print(f"  {'set':26} {'gold':>5} {'P':>6} {'R':>6} {'F1':>6} {'exact':>6} {'tokP':>6} {'clean+':>7} {'flag':>6}")
        rows = dict(r.get("synth", {}))
        rows.update({"articles " + k.replace("family:", ""): v for k, v in r.get("articles", {}).items()})
        if r.get("pps"):
            rows.update({"pps-test (excluded)": r["pps"]["all"]})
        if r.get("pps_shipped"):
            rows.update({"pps-test (shipped table)": r["pps_shipped"]["all"]})
        for k, s in rows.items():
            print(f"  {k:26} {s['gold']:>5} {fmt(s['precision']):>6} {fmt(s['recall']):>6} {fmt(s['f1']):>6} "
                  f"{fmt(s['exact']):>6} {fmt(s['token_precision']):>6} {fmt(s['clean_applied_per_10k'], False):>7} "
                  f"{fmt(s['clean_flagged_per_10k'], False):>6}")
        if r.get("clean"):
            print(f"  clean prose, edits per 10,000 words: " + "; ".join(
                f"{reg} {c['words']}w applied {c['applied_per_10k']} flagged {c['flagged_per_10k']}" for reg, c in r["clean"].items()))
        sw = r.get("detector_sweep")
        if sw:
            print(f"  detector alone (shipped threshold {sw['shipped_threshold']}), {sw['gold']} gold phrases, "
                  f"{sw['clean_words']} clean words:")
            for pt in sw["points"]:
                print(f"    {_at(pt['threshold']):<12} phrase recall {fmt(pt['recall'])}  word precision "
                      f"{fmt(pt['word_precision'])}  clean flagged words/10k {pt['clean_flagged_words_per_10k']}")
        if r.get("seeds"):
            s2 = r["seeds"].get("002", {})
            others = ", ".join(f"{k}: {v['applied']} applied/{v['flagged']} flagged" for k, v in r["seeds"].items() if k != "002")
            print(f"  seed 002: gold {s2.get('gold')} recall {fmt(s2.get('recall'))} exact {fmt(s2.get('exact'))} "
                  f"precision {fmt(s2.get('precision'))}; {others}")
    print("\nP/R/F1: phrase-level detection (all edits); exact: gold phrases restored exactly by applied edits;"
          "\ntokP: token precision of applied changes; clean+/flag: applied/flagged edits per 10k words on unspun chunks.")


def markdown(rep: dict) -> str:
    """The README results table: one row per set and configuration."""
    out = [f"`{rep['cmd']}` ({rep['date']}, generator {', '.join(rep['generator'])}, {rep['seconds']:.0f} s)", "",
           "| config | set | gold | P | R | F1 | exact | tokP |", "|---|---|---|---|---|---|---|---|"]
    clean = ["", "| config | register | words | applied / 10k words | flagged / 10k words |", "|---|---|---|---|---|"]
    seeds = ["", "| config | 002 recall | 002 exact | 002 precision | applied edits on 000 / 001 / 003 / 004 |",
             "|---|---|---|---|---|"]
    for cfg, r in rep["configs"].items():
        if r.get("status") != "ok":
            out.append(f"| {cfg} | n/a ({r['status']}) | | | | | | |")
            continue
        rows = {k: v for k, v in r["synth"].items() if k.startswith(("all", "family:", "tortured:"))}
        rows.update({k: v for k, v in r["synth"].items() if k.startswith("intensity:")})
        rows.update({"articles " + k: v for k, v in r.get("articles", {}).items()})
        for name, key in (("pps-test, test phrases excluded", "pps"), ("pps-test, shipped table", "pps_shipped")):
            if r.get(key):
                rows[name] = r[key]["all"]
        for k, v in rows.items():
            if v["gold"]:
                out.append(f"| {cfg} | {k.replace('family:', '').replace('intensity:', 'intensity ')} | {v['gold']} | "
                           f"{fmt(v['precision'])} | {fmt(v['recall'])} | {fmt(v['f1'])} | {fmt(v['exact'])} | {fmt(v['token_precision'])} |")
        none = r["synth"].get("family:none")
        if none:
            clean.append(f"| {cfg} | synthetic unspun chunks | {none['records']} chunks | "
                         f"{fmt(none['clean_applied_per_10k'], False)} | {fmt(none['clean_flagged_per_10k'], False)} |")
        for reg, c in r.get("clean", {}).items():
            clean.append(f"| {cfg} | {reg} | {c['words']} | {c['applied_per_10k']} | {c['flagged_per_10k']} |")
        sd = r.get("seeds") or {}
        if "002" in sd:
            s2 = sd["002"]
            seeds.append(f"| {cfg} | {fmt(s2.get('recall'))} | {fmt(s2.get('exact'))} | {fmt(s2.get('precision'))} | "
                         + " / ".join(str(sd[k]["applied"]) for k in ("000", "001", "003", "004") if k in sd) + " |")
    sweep = []
    for cfg, r in rep["configs"].items():
        sw = r.get("detector_sweep")
        if sw:
            sweep = ["", f"Detector alone by threshold (shipped: {sw['shipped_threshold']}; {sw['gold']} gold phrases, "
                         f"{sw['clean_words']} clean words):", "",
                     "| threshold | phrase recall | word precision | clean flagged words / 10k |", "|---|---|---|---|"]
            sweep += [f"| {_at(pt['threshold'])} | {fmt(pt['recall'])} | {fmt(pt['word_precision'])} | "
                      f"{pt['clean_flagged_words_per_10k']} |" for pt in sw["points"]]
    return "\n".join(out + clean + (seeds if len(seeds) > 3 else []) + sweep) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny committed fixtures, seconds (CI)")
    ap.add_argument("--synth", type=Path, default=SYNTH, help="synthetic records (docs/architecture.md format)")
    ap.add_argument("--limit", type=int, default=0, help="use the first N synthetic records")
    ap.add_argument("--configs", default="tables,+detector,+rewriter,models", help=f"among {','.join(CONFIGS)}")
    ap.add_argument("--clean-words", type=int, default=200000, help="clean-prose words per register (tables only)")
    ap.add_argument("--clean-words-models", type=int, default=20000, help="same, for configs with neural stages")
    ap.add_argument("--records-models", type=int, default=500,
                    help="synthetic and PPS records for configs with neural stages (every k-th record; 0 = all)")
    ap.add_argument("--articles", type=int, default=150, help="whole articles joined from --articles-from (0 = none)")
    ap.add_argument("--articles-from", type=Path, default=SYNTH.parent / "test.jsonl")
    ap.add_argument("--no-pps", action="store_true")
    ap.add_argument("--no-sweep", action="store_true", help="skip the detector threshold sweep")
    ap.add_argument("--models-dir", help="folder with detector/ and rewriter/ (default: the shipped models/)")
    ap.add_argument("--name", default=None, help="JSON name under runs/eval/ (default: default or smoke)")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "eval")
    a = ap.parse_args(argv)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass
    t0 = time.time()
    name = a.name or ("smoke" if a.smoke else "default")
    if a.smoke:
        synth_path = SMOKE / "synth.jsonl"
        recs = read_jsonl(synth_path)
        prose = {"smoke": [ln for ln in (SMOKE / "clean.txt").read_text(encoding="utf-8").split("\n") if ln.strip()]}
        prose_models = prose
        pps, exclude, source = [], [], None
    else:
        synth_path = a.synth
        if not synth_path.exists():
            print(f"evaluate.py: {synth_path} missing; generate it with scripts/spin.py (or use --smoke)", file=sys.stderr)
            return 2
        recs = read_jsonl(synth_path, a.limit)
        prose = clean_prose(a.clean_words)
        prose_models = {reg: _cut(texts, a.clean_words_models) for reg, texts in prose.items()}
        pps, exclude = ([], []) if a.no_pps else pps_set()
        from spinlib.data import tortured_sources
        splits = {r.get("split") for r in recs}
        source = tortured_sources(splits.pop()) if len(splits) == 1 and None not in splits else None
    arts = join_articles(a.articles_from, a.articles) if a.articles and not a.smoke and a.articles_from.exists() else []
    rep = {"name": name, "cmd": " ".join(["scripts/evaluate.py", *(argv if argv is not None else sys.argv[1:])]), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "synth_file": str(synth_path),
           "synth_records": len(recs), "generator": sorted({r.get("generator", "?") for r in recs}),
           "pps_excluded_entries": len(exclude), "articles": len(arts), "models_dir": a.models_dir, "configs": {}}
    for cfg in a.configs.split(","):
        if cfg not in CONFIGS:
            ap.error(f"unknown config {cfg!r}")
        t1 = time.time()
        stages = CONFIGS[cfg]
        c, off = make_cleaner(stages, exclude, a.models_dir)
        if off:
            rep["configs"][cfg] = {"stages": stages, "status": "; ".join(off)}
            continue
        neural = not set(stages) <= {"tables", "mt"}
        rs, ps = (_every(recs, a.records_models), _every(pps, a.records_models)) if neural else (recs, pps)
        r = {"stages": stages, "status": "ok", "synth": run_synth(c, rs, {"family", "intensity"}, source)}
        if arts:
            r["articles"] = run_synth(c, arts, {"family"}, source)
        if ps:
            r["pps"] = run_synth(c, ps, set())
        shipped = make_cleaner(stages, (), a.models_dir)[0] if exclude else c
        if ps and "tables" in stages:
            r["pps_shipped"] = run_synth(shipped, ps, set())
        r["clean"] = run_clean(shipped, prose_models if neural else prose)
        if not a.smoke:
            r["seeds"] = run_seeds(shipped)
        if stages == ("tables", "mt", "detector") and not a.no_sweep:
            r["detector_sweep"] = detector_sweep(a.models_dir, rs, prose_models)
        r["seconds"] = round(time.time() - t1, 1)
        r["notices"] = sorted(set(c.notices))
        rep["configs"][cfg] = r
    rep["seconds"] = round(time.time() - t0, 1)
    a.out.mkdir(parents=True, exist_ok=True)
    from cleaner.textio import atomic_write_bytes
    atomic_write_bytes(a.out / f"{name}.json", (json.dumps(rep, indent=1, ensure_ascii=False) + "\n").encode())
    atomic_write_bytes(a.out / f"{name}.md", markdown(rep).encode())
    print_report(rep)
    print(f"\nwrote {a.out / (name + '.json')} and {name}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
