"""Evaluate cleaner.variants: unlisted renderings of listed tortured terms.

    .venv/bin/python scripts/eval_variants.py                 # held-out variants + clean prose
    .venv/bin/python scripts/eval_variants.py --min-count 2   # stricter stand-ins
    .venv/bin/python scripts/eval_variants.py --veto          # write models/tables/variant-veto.txt first
    .venv/bin/python scripts/eval_variants.py --detector      # + what the detector route would apply
    .venv/bin/python scripts/eval_variants.py --no-common --detector   # + loose variants (pipeline)

Held-out variants: the tortured entries whose term has another listed rendering of the same length
are split into 10 folds by hash; each fold's entries are removed from the table, the matcher is
built from the rest, and each removed phrase is looked for in a carrier sentence. Found = a variant
hit over exactly the phrase; exact = its canonical is the entry's canonical (case-insensitive).
Clean prose: the dev+test documents of ../shared/corpora and the eval-only BBC news, variants
outside table hits, per 10,000 words. Writes runs/variants/eval.json.

The veto list (models/tables/variant-veto.txt): every 2-word pair a variant can contain with a
stand-in that is ordinary English, i.e. in symspellpy's bigram dictionary (Google Books) or seen at
all in the train split of ../shared/corpora (30.8M words). The everyday words
(models/tables/variant-common.txt): stand-ins seen 10M+ times in symspellpy's unigram dictionary.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from cleaner import pipeline as P  # noqa: E402
from cleaner import variants as V  # noqa: E402
from cleaner.matcher import Matcher, normalise, normalise_key  # noqa: E402
from cleaner.regions import merge  # noqa: E402
from cleaner.tables import load_table  # noqa: E402
from spinlib.data import doc_split, iter_docs  # noqa: E402

TABLES = ROOT / "models" / "tables"
COMMON_COUNT = 10_000_000
CARRIERS = ["We applied {} to the samples.", "The results of {} are shown in Table 2.",
            "In this paper, {} is used to improve the accuracy."]


def entries():
    return [e for n in ("news-spinner", "news-variants", "tortured", "mt") for e in load_table(TABLES / f"{n}.tsv").entries]


def held_out(ents, min_count: int, veto, common, det=None) -> dict:
    base = V.stand_ins(ents)
    by_term: dict[tuple, list] = {}
    for e in ents:
        if not V.is_source(e):
            continue
        sp, ca = normalise_key(e.spun).split(" "), normalise_key(e.canonical).split(" ")
        if len(sp) == len(ca) and V.MIN_WORDS <= len(ca) <= V.MAX_WORDS and tuple(ca) in base[2]:
            by_term.setdefault(tuple(ca), []).append(e)
    cases = [e for es in by_term.values() if len(es) >= 2 for e in es]
    fold = lambda e: int(hashlib.md5(e.spun.encode()).hexdigest()[:8], 16) % 10  # noqa: E731
    c = Counter()
    misses = Counter()
    found = []  # (sentence, hit, right term) for the detector pass
    for k in range(10):
        out = [e for e in cases if fold(e) == k]
        gone = {id(e) for e in out}
        vm = V.VariantMatcher([e for e in ents if id(e) not in gone], veto, common, min_count)
        for i, e in enumerate(out):
            s = CARRIERS[i % len(CARRIERS)].format(e.spun)
            a = s.index(e.spun)
            hits = vm.find(s, normalise(s))
            h = next((h for h in hits if h.start == a and h.end == a + len(e.spun)), None)
            c["n"] += 1
            c[f"n{len(e.spun.split())}"] += 1
            c["other_hits"] += sum(1 for x in hits if x is not h)
            if h is not None:
                c["found"] += 1
                ok = h.entry.canonical.casefold() == e.canonical.casefold()
                found.append((s, h, ok))
                c["exact"] += ok
                c[f"exact{len(e.spun.split())}"] += ok
            else:
                misses[f"{e.spun} -> {e.canonical}"] += 1
    r = {k: c[k] for k in sorted(c)}
    r["recall"] = round(c["found"] / max(c["n"], 1), 3)
    r["exact_rate"] = round(c["exact"] / max(c["n"], 1), 3)
    r["precision_of_found"] = round(c["exact"] / max(c["found"], 1), 3)
    r["terms"] = sum(1 for es in by_term.values() if len(es) >= 2)
    r["miss_examples"] = [m for m, _ in misses.most_common(15)]
    if det is not None:
        # Alone in a sentence a variant is applied only on the detector's word (pipeline.VARIANT_P).
        outs = det.detect_batch([x[0] for x in found])
        pts = [((P._stand_in_prob(o.words, s, h.start, h.end, h.entry.canonical) or 0.0), ok)
               for o, (s, h, ok) in zip(outs, found) if not h.entry.report_only]

        def at(t: float) -> list:  # applied, right, restored rate with VARIANT_P = t
            kept = [ok for p, ok in pts if p >= t]
            return [len(kept), sum(kept), round(sum(kept) / max(c["n"], 1), 3)]
        r["detector_applied"], r["detector_applied_right_term"], r["detector_restored_rate"] = at(P.VARIANT_P)
        # What another VARIANT_P would give.
        r["detector_by_p"] = {str(t): at(t) for t in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)}
    return r


def clean_prose(ents, min_count: int, veto, common, limit: int, det=None) -> dict:
    m = Matcher(ents)
    vm = V.VariantMatcher(ents, veto, common, min_count)
    res = {}
    for label, texts in (("dev+test", (t for _s, _r, i, t in iter_docs() if doc_split(i) != "train")),
                         ("bbc-news (eval-only)", (t for *_x, t in iter_docs(sources={"bbc-news-2004"})))):
        words, n, hits, ex, ps = 0, 0, 0, Counter(), []
        t0 = time.perf_counter()
        for text in texts:
            n += 1
            if limit and n > limit:
                break
            words += len(text.split())
            norm = normalise(text)
            th = m.find(text, (), norm)
            for h in vm.find(text, norm, merge([(x.start, x.end) for x in th])):
                hits += 1
                ex[f"{h.entry.spun.lower()} -> {h.entry.canonical}"] += 1
                if det is not None:  # the detector reads the paragraph around the hit
                    a, b = text.rfind("\n", 0, h.start) + 1, text.find("\n", h.end)
                    para = text[a:b if b >= 0 else len(text)]
                    o = det.detect(para)
                    ps.append(P._stand_in_prob(o.words, para, h.start - a, h.end - a, h.entry.canonical))
        res[label] = {"words": words, "hits": hits, "per_10k": round(hits * 1e4 / max(words, 1), 3),
                      "detector_p": sorted(round(p, 3) for p in ps if p is not None),
                      "detector_applied": sum(1 for p in ps if p is not None and p >= P.VARIANT_P),
                      "seconds": round(time.perf_counter() - t0, 1), "top": ex.most_common(30)}
        print(label, {k: v for k, v in res[label].items() if k != "top"}, flush=True)
    return res


def write_veto(ents) -> list[str]:
    """Pairs (stand-in involved) that are ordinary English; see the module docstring."""
    import re

    import symspellpy
    vm = V.VariantMatcher(ents)  # its `allowed` sets: each term word and its stand-ins
    cands: set[str] = set()
    for term, allowed in zip(vm.terms, vm.allowed):
        for i in range(len(term) - 1):
            for a in allowed[i]:
                for b in allowed[i + 1]:
                    if a != term[i] or b != term[i + 1]:
                        cands.add(f"{a} {b}")
    out: set[str] = set()
    d = Path(symspellpy.__file__).parent / "frequency_bigramdictionary_en_243_342.txt"
    for line in d.read_text(encoding="utf-8").splitlines():
        p = line.split()
        if len(p) == 3 and f"{p[0]} {p[1]}".lower() in cands:
            out.add(f"{p[0]} {p[1]}".lower())
    word = re.compile(r"[a-z0-9][a-z0-9'-]*")
    t0, n = time.perf_counter(), 0
    for _src, _reg, _id, text in iter_docs(split="train"):
        for para in normalise(text).split("\n"):
            ws = word.findall(para)
            n += len(ws)
            for a, b in zip(ws, ws[1:]):
                k = f"{a} {b}"
                if k in cands:
                    out.add(k)
    print(f"counted {n:,} train words in {time.perf_counter() - t0:.0f} s")
    lines = sorted(out)
    _write(TABLES / V.COMMON_FILE, common_stand_ins(vm.subs),
           "# Stand-in words of everyday English (seen 10M+ times in symspellpy's Google Books unigram\n"
           "# dictionary): never the odd word a tortured-phrase variant needs. Generated by\n"
           "# scripts/eval_variants.py --veto: do not edit.\n")
    head = ("# Word pairs of ordinary English that a tortured-phrase variant may not contain: every pair a\n"
            "# variant could hold that is in symspellpy's bigram dictionary or occurs in the train split of\n"
            "# ../shared/corpora. Generated by scripts/eval_variants.py --veto: do not edit.\n")
    _write(TABLES / V.VETO_FILE, lines, head)
    print(f"{len(lines)} pairs of {len(cands):,} possible")
    return lines


def common_stand_ins(subs, min_count: int = COMMON_COUNT) -> list[str]:
    import symspellpy
    stand = {a for d in subs.values() for a in d}
    p = Path(symspellpy.__file__).parent / "frequency_dictionary_en_82_765.txt"
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        w, _, n = line.partition(" ")
        if w in stand and n.isdigit() and int(n) >= min_count:
            out.append(w)
    return sorted(set(out))


def _write(path: Path, lines: list[str], head: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(head + "".join(f"{x}\n" for x in lines), encoding="utf-8")
    tmp.replace(path)
    print(f"wrote {path}: {len(lines)} lines")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--min-count", type=int, default=V.MIN_COUNT)
    ap.add_argument("--veto", action="store_true", help="regenerate the veto and everyday-word lists first")
    ap.add_argument("--no-veto", action="store_true", help="evaluate without those two lists")
    ap.add_argument("--no-common", action="store_true",
                    help="evaluate without the everyday-word list: with --detector, the pipeline's loose variants")
    ap.add_argument("--limit", type=int, default=0, help="clean documents per source (0 = all)")
    ap.add_argument("--detector", action="store_true",
                    help="also run the shipped detector: variants it would apply alone (pipeline.VARIANT_P)")
    ap.add_argument("--out", default=str(ROOT / "runs" / "variants" / "eval.json"))
    a = ap.parse_args(argv)
    ents = entries()
    det = None
    if a.detector:
        from cleaner.detector import load_detector
        det = load_detector()
    if a.veto:
        write_veto(ents)
    veto = [] if a.no_veto else V.load_veto(TABLES)
    common = [] if a.no_veto or a.no_common else V.load_veto(TABLES, V.COMMON_FILE)
    res = {"min_count": a.min_count, "veto_pairs": len(veto), "common_words": len(common),
           "held_out": held_out(ents, a.min_count, veto, common, det)}
    print(json.dumps(res["held_out"], indent=1), flush=True)
    res["clean"] = clean_prose(ents, a.min_count, veto, common, a.limit, det)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
