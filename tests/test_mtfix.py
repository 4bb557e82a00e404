"""The duplicated-word rule's fast path finds exactly what its regex finds."""

from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.matcher import normalise
from cleaner.mtfix import _DUP, LEGIT_DOUBLES, _dup_matches, duplicate_words

# Tokens chosen to hit the edge cases: case, apostrophes and quotes, hyphens, İ, digits, markup.
WORDS = ["the", "The", "THE", "can't", "dogs'", "o'clock", "clock", "a", "in", "İstanbul", "istanbul",
         "well-known", "known", "\u201cthe", "the\u201d", "'the", "the'", "(the", "the)", "\u2014the", "and",
         "x1", "1", "_the", "the_", "naïve", "Naïve", "l\u2019été", "été", "a\u2014the", "\u00abthe\u00bb",
         "\u201c'the", "the'\u201d"]
SEPS = [" ", "  ", "\t", "\n", " - ", "'", ", ", "\u00a0", ". ", "\u2019", "''", "\u3000", "\u2014"]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPS)), max_size=10))
def test_fast_path_equals_regex(parts):
    text = "".join(w + s for w, s in parts)
    want = [m.span() for m in _DUP.finditer(text)]
    assert [m.span() for m in _dup_matches(text, normalise(text))] == want


def test_doubles():
    text = "It was including including the\tthe plan. That that. o'clock clock, Bora Bora"
    got = {(e.before, e.applied) for e in duplicate_words(text)}
    assert got == {(" including", True), ("\tthe", True), (" Bora", False)}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(WORDS + ["that", "b", "A", "a", "had"]), st.sampled_from(SEPS)),
                max_size=10))
def test_skipping_allowed_doubles_changes_nothing(parts):
    """duplicate_words skips allowed doubles before searching; the edits are those of a full scan."""
    text = "".join(w + s for w, s in parts)
    want = [(m.end(1), m.end(3)) for m in _DUP.finditer(text)
            if m.group(1).lower() not in LEGIT_DOUBLES and (len(m.group(1)) > 1 or m.group(1).lower() == "a")]
    assert [(e.start, e.end) for e in duplicate_words(text)] == want
