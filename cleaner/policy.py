"""Precision policy: the per-document spin score and the per-edit apply/report decision.

Spin score. Let H be the summed priors of *strong* table hits (prior >= STRONG, i.e. phrases that
almost never occur in clean prose), minus a noise floor of half a hit, and W the document's word
count floored at 150 words (so one hit in a short snippet does not look like a spun article):

    s_table = 1 - exp(-RATE * max(0, H - 0.5) * 100 / max(W, 150))

With RATE = 1.5: no strong hit -> 0; one hit in 150 words -> 0.53; two -> 0.89; one per 100 words
over a long article -> ~0.78. A detector's document probability p_doc, when available, combines
as a noisy-or after discarding its uncertain half: s = 1 - (1 - s_table)(1 - max(0, 2 p_doc - 1)).
(The shipped detector scores 6% of clean articles above 0.5; only confident scores may help
ambiguous entries apply.)

Edit score. An entry's prior p is the probability that a match in arbitrary English is spun.
The document score raises it in log-odds: score = sigmoid(logit(p) + WEIGHT * s), WEIGHT = 3.
An edit is applied when score >= apply_threshold (0.8), reported (not applied) when
score >= report_threshold, and dropped below that. So a strong entry (p = 0.97) applies anywhere,
while "stated" (p ~ 0.3) applies only in a clearly spun document (s >~ 0.8).

Model rewrites. The rewriter's confidence is calibrated on spans of spun documents; in a document
that reads as clean a detector span is more likely a false flag than a spun phrase, and its rewrite
("12 months" -> "year", "one of many" -> "one of") would change prose that was right. The score
that decides is computed without the span's own words (in a short paragraph one confident flag
alone makes the detector's document score high): below MODEL_MIN_SPIN the rewrite is reported, not
applied. MT repairs ("the the") are errors in any document and are exempt.
"""

from __future__ import annotations

import math

STRONG = 0.9
RATE = 1.5
WEIGHT = 3.0
MIN_WORDS = 150
MODEL_MIN_SPIN = 0.5


def spin_score(strong_priors: list[float], n_words: int, doc_prob: float | None = None) -> float:
    h = max(0.0, sum(strong_priors) - 0.5)
    s = 1.0 - math.exp(-RATE * h * 100.0 / max(n_words, MIN_WORDS))
    if doc_prob is not None:
        s = 1.0 - (1.0 - s) * (1.0 - max(0.0, min(1.0, 2.0 * doc_prob - 1.0)))
    return round(s, 4)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def edit_score(prior: float, spin: float, weight: float = WEIGHT) -> float:
    if prior >= 1.0:
        return 1.0
    return 1.0 / (1.0 + math.exp(-(_logit(prior) + weight * spin)))


def decide(score: float, apply_threshold: float, report_only: bool = False) -> bool:
    return score >= apply_threshold and not report_only
