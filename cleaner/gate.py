"""Lexical document gate: is this document worth the neural stages?

A feature's weight is the smoothed log-likelihood ratio of the feature in spun text versus the
original text, learnt from the simulator's training pairs (scripts/train_gate.py). Features are
adjacent pairs of lower-cased words ("mean solar", "solar day": spinners make odd pairs out of
common words; on the dev split pairs alone beat words plus pairs); only the strongest ~20k are kept. A document's score is the sum
of its features' weights divided by (number of words + PRIOR_WORDS): the mean evidence per word,
shrunk towards 0 for short texts, so a long clean document does not pile up evidence by being
long and a three-word snippet does not fire on one odd word. The gate fires when the score
reaches the threshold picked on the dev split (models/gate/gate.json).

It is cheap (~20 MB/s on one core): UTF-8 encode, ASCII lower-casing, one `bytes.translate` of
punctuation to spaces, `split()`, and a C-level sum of dictionary look-ups of `zip(ws, ws[1:])`
tuples. No regex, no torch.

Files in models/gate/: `weights.tsv` (`word word<TAB>weight`, sorted, `#` header lines) and
`gate.json` (`threshold`, `prior_words`, provenance and dev numbers).
"""

from __future__ import annotations

import json
from itertools import repeat
from pathlib import Path

NAME = "gate"
PRIOR_WORDS = 10.0
# Bytes that separate words: ASCII punctuation, digits and control characters. Letters, the
# apostrophe and every byte >= 0x80 (non-ASCII letters in UTF-8) stay, so "don't" and "café" are words.
_KEEP = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'") | set(range(128, 256))
SEP = bytes(b if b in _KEEP else 32 for b in range(256))


def words(text: str) -> list[bytes]:
    """Lower-cased word tokens as UTF-8 bytes."""
    return text.encode("utf-8", "surrogatepass").lower().translate(SEP).split()


def features(ws: list[bytes]) -> list[tuple[bytes, bytes]]:
    """The keys of the weight table: each adjacent pair of words."""
    return list(zip(ws, ws[1:]))


def default_dir(models_dir: str | Path | None = None) -> Path:
    from .tables import model_dir
    return model_dir(NAME, models_dir)


class Gate:
    """Pair weights + threshold. `score(text)` in log-likelihood-ratio units per word; `fires(text)`."""

    def __init__(self, weights: dict[tuple[bytes, bytes], float], threshold: float,
                 prior_words: float = PRIOR_WORDS, meta: dict | None = None):
        self.weights, self.threshold, self.prior_words = weights, float(threshold), float(prior_words)
        self.meta = meta or {}

    def score(self, text: str) -> float:
        ws = words(text)
        return sum(map(self.weights.get, zip(ws, ws[1:]), repeat(0.0))) / (len(ws) + self.prior_words)

    def fires(self, text: str, threshold: float | None = None) -> bool:
        return self.score(text) >= (self.threshold if threshold is None else threshold)

    # -- files ------------------------------------------------------------------------------
    @classmethod
    def load(cls, folder: str | Path) -> "Gate":
        folder = Path(folder)
        meta = json.loads((folder / "gate.json").read_text(encoding="utf-8"))
        weights: dict[tuple[bytes, bytes], float] = {}
        with open(folder / "weights.tsv", "rb") as f:
            for line in f:
                if line.startswith(b"#") or not line.strip():
                    continue
                pair, v = line.rstrip(b"\r\n").split(b"\t")
                a, b = pair.split(b" ")
                weights[a, b] = float(v)
        return cls(weights, meta["threshold"], meta.get("prior_words", PRIOR_WORDS), meta)

    def save(self, folder: str | Path, header: str = "") -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        lines = [f"# {h}\n".encode() for h in header.splitlines()] + [b"# word word\tweight\n"]
        lines += [b"%s %s\t%s\n" % (a, b, f"{v:.4g}".encode()) for (a, b), v in sorted(self.weights.items())]
        (folder / "weights.tsv").write_bytes(b"".join(lines))
        meta = {**self.meta, "threshold": self.threshold, "prior_words": self.prior_words}
        (folder / "gate.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


_LOADED: dict[str, tuple[Gate | None, str]] = {}


def load_gate(models_dir: str | Path | None = None) -> tuple[Gate | None, str]:
    """(gate, "") or (None, why it is unavailable); loaded once per process and folder."""
    folder = default_dir(models_dir)
    key = str(folder)
    if key not in _LOADED:
        if not (folder / "gate.json").is_file() or not (folder / "weights.tsv").is_file():
            _LOADED[key] = None, f"lexical gate unavailable: no {folder}/gate.json and weights.tsv " \
                                 f"(train it with scripts/train_gate.py)"
        else:
            try:
                _LOADED[key] = Gate.load(folder), ""
            except (OSError, ValueError, KeyError) as err:
                _LOADED[key] = None, f"lexical gate unavailable: {folder}: {err}"
    return _LOADED[key]
