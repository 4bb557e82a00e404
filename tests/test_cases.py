"""Data-driven cases: every tests/cases/*.json file.

A file holds a list of cases, or {"cases": [...]}; each case has "text" and either
"expected" (the exact cleaned text; negatives have expected == text) or "applies"
(a list of [before, after] pairs that must be among the applied edits, for in-the-wild text
where we assert the restorations we are sure of). Optional: "path" (a file name, for
Markdown/HTML handling), "table" (a fixture table instead of the shipped ones), "note".
"""

import json
from pathlib import Path

import pytest

from cleaner import Cleaner, apply_edits, revert_edits

CASES = Path(__file__).parent / "cases"
FIXTURES = Path(__file__).parent / "fixtures"
SKIP = {"seed_002_gold.json"}  # gold list for the harness, tested in test_seeds.py
SKIP |= {p.name for p in CASES.glob("languagetool_*.json")}


def _load():
    for f in sorted(CASES.glob("*.json")):
        if f.name in SKIP:
            continue
        data = json.loads(f.read_text(encoding="utf-8"))
        cases = data["cases"] if isinstance(data, dict) else data
        for i, c in enumerate(cases):
            if "text" in c and ("expected" in c or "applies" in c):
                yield pytest.param(c, id=f"{f.stem}[{i}]")


_cleaners: dict = {}


def _cleaner(table):
    if table not in _cleaners:
        tables = [str(FIXTURES / table)] if table else None
        _cleaners[table] = Cleaner(stages=("tables", "mt"), tables=tables)
    return _cleaners[table]


@pytest.mark.parametrize("case", list(_load()))
def test_case(case):
    r = _cleaner(case.get("table")).clean(case["text"], case.get("path"))
    if "expected" in case:
        assert r.text == case["expected"], [e.to_dict() for e in r.edits]
    if "applies" in case:
        applied = {(e.before, e.after) for e in r.edits if e.applied}
        for before, after in case["applies"]:
            assert (before, after) in applied, (before, after, [e.to_dict() for e in r.edits])
    # The audit trail is exact whatever the case.
    assert apply_edits(case["text"], r.edits) == r.text
    assert revert_edits(r.text, r.edits) == case["text"]
