"""The five real articles the project started from (../shared/seeds; skipped where absent)."""

import json
from pathlib import Path

import pytest

from conftest import CASES, shared

REQUIRED = [  # issue 2, "Done when"
    ("local weather change", "climate change"), ("compelled labor", "forced labor"),
    ("non secular", "religious"), ("12 months", "year"), ("considered one of", "one of"),
    ("Rights teams", "Rights groups"), ("minority teams", "minority groups"),
    ("coaching amenities", "training facilities"), ("stated", "said"), ("workplace", "office"),
    ("final month", "last month"), ("attainable journey", "possible trip"),
    ("amongst different points", "among other issues"), ("assertion", "statement"),
]


def _seed(prefix):
    d = shared("seeds")
    return next(d.glob(f"{prefix}_*.txt"))


def _applied(cleaner, path):
    text = Path(path).read_text(encoding="utf-8")
    r = cleaner.clean(text, str(path))
    return r, [e for e in r.edits if e.applied]


def test_002_restores_the_required_phrases(fast_cleaner):
    r, applied = _applied(fast_cleaner, _seed("002"))
    pairs = {(e.before, e.after) for e in applied}
    # An edit may cover a longer span than listed (e.g. "attainable journey to"), so match by containment.
    missing = [(b, a) for b, a in REQUIRED
               if not any(b in eb and a in ea for eb, ea in pairs)]
    assert not missing, missing
    assert r.spin_score > 0.9


def test_002_gold_recall_and_precision(fast_cleaner):
    """Against the full gold list: every applied edit must be a gold edit (precision 1.0)."""
    gold = json.loads((CASES / "seed_002_gold.json").read_text(encoding="utf-8"))
    gold_spans = {(s, t) for g in gold for s, t in g["spans"]}
    r, applied = _applied(fast_cleaner, _seed("002"))
    wrong = [e.to_dict() for e in applied
             if not any(s <= e.start and e.end <= t or e.start <= s and t <= e.end for s, t in gold_spans)]
    assert not wrong
    found = sum(any(e.start <= s and t <= e.end for e in applied) for s, t in gold_spans)
    assert found / len(gold_spans) >= 0.8, found


@pytest.mark.parametrize("prefix", ["003", "004"])
def test_original_wording_is_left_alone(fast_cleaner, prefix):
    r, applied = _applied(fast_cleaner, _seed(prefix))
    assert applied == [], [e.to_dict() for e in applied]
    assert r.text == r.input


def test_001_machine_translation_double_is_fixed(fast_cleaner):
    r, applied = _applied(fast_cleaner, _seed("001"))
    assert any(e.kind == "mt" and e.before.strip() == "including" and e.after == "" for e in applied)
    assert "including including" not in r.text
