from pathlib import Path

import pytest

from cleaner.matcher import Matcher, restore_case
from cleaner.regions import protected_spans
from cleaner.tables import load_table

DEMO = Path(__file__).parent / "fixtures" / "demo.tsv"


@pytest.fixture(scope="module")
def matcher():
    return Matcher(load_table(DEMO).entries)


def found(matcher, text):
    return [(text[h.start:h.end], h.entry.canonical) for h in matcher.find(text, protected_spans(text))]


@pytest.mark.parametrize("text,expected", [
    ("Rights teams met.", [("Rights teams", "rights groups")]),
    ("local weather change", [("local weather change", "climate change")]),
    ("local weather\nchange", [("local weather\nchange", "climate change")]),   # hard-wrapped line
    ("the White Home said", [("Home", "house")]),
    ("the white home said", []),                     # case=exact
    ("he went Home today", []),                      # prev guard
    ("on Might 5 and in June", [("Might", "May")]),  # next=#num
    ("he Might go", []),
    ("Might and June", [("Might", "May")]),
    ("nonsecular", []), ("non seculars", []),        # word boundaries
    ("well-stated case", []),                        # hyphen joins words
    ("the nation's compelled labor's cost", [("compelled labor", "forced labor")]),  # possessive ok
    ("`local weather change` in code", []),          # protected inline code
    ("see http://x.org/local-weather-change and non secular", [("non secular", "religious")]),
    ("bosom tissue", []),                            # AND guard unmet
    ("bosom tissue and breast cancer", [("bosom", "breast")]),
    ("magnetic cell separation done", [("magnetic cell separation", "magnetic-activated cell sorting")]),
    ("magnetic cell separation done with MACS", []),  # NOT guard
    ("exactness of the accuracy", [("exactness of the accuracy", "accuracy")]),  # near=3
    ("exactness is not a measure of a model's accuracy", []),
    ("considered one of them", [("considered one of", "one of")]),
])
def test_find(matcher, text, expected):
    assert found(matcher, text) == expected


@pytest.mark.parametrize("src,repl,out", [
    ("local weather change", "climate change", "climate change"),
    ("Local weather change", "climate change", "Climate change"),
    ("Local Weather Change", "climate change", "Climate Change"),
    ("LOCAL WEATHER CHANGE", "climate change", "CLIMATE CHANGE"),
    ("chinese language", "Chinese", "Chinese"),
    ("Stated", "said", "Said"),
    ("Well being Organization", "health organization", "Health Organization"),  # shared word keeps its case
    ("well being Organization", "health organization", "health Organization"),
    ("the Paris local weather", "the Paris climate", "the Paris climate"),
    ("As lengthy as", "as long as", "As long as"),            # a sentence-initial capital stays first
    ("The residual sheet", "the rest of the paper", "The rest of the paper"),
    ("Vector bolster machine", "support vector machine", "Support vector machine"),
    ("NASA house company", "NASA space agency", "NASA space agency"),
])
def test_restore_case(src, repl, out):
    assert restore_case(src, repl) == out


def test_longest_match_wins():
    from cleaner.tables import Entry
    m = Matcher([Entry("weather", "climate", 0.5), Entry("local weather change", "climate change", 0.99)])
    hits = m.find("the local weather change debate")
    assert [(h.start, h.end) for h in hits] == [(4, 24)]


def test_ignore_words():
    m = Matcher(load_table(DEMO).entries, ignore=["stated"])
    assert m.find("he stated it") == []
