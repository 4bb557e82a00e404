import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.edits import Edit, EditConflict, apply_edits, output_spans, revert_edits


@st.composite
def text_and_edits(draw):
    text = draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=12))))
    edits = []
    for a, b in zip(cuts[::2], cuts[1::2]):
        after = draw(st.text(max_size=10))
        applied = draw(st.booleans())
        edits.append(Edit(a, b, text[a:b], after, applied=applied))
    return text, edits


@settings(max_examples=300, deadline=None)
@given(text_and_edits())
def test_apply_then_revert_is_identity(case):
    text, edits = case
    out = apply_edits(text, edits)
    assert revert_edits(out, edits) == text


@settings(max_examples=200, deadline=None)
@given(text_and_edits())
def test_text_outside_edits_is_unchanged(case):
    text, edits = case
    out = apply_edits(text, edits)
    applied = sorted((e for e in edits if e.applied), key=lambda e: e.start)
    pos_in, pos_out = 0, 0
    for e, s, t in output_spans(edits):
        assert out[pos_out:s] == text[pos_in:e.start]
        assert out[s:t] == e.after
        pos_in, pos_out = e.end, t
    assert out[pos_out:] == text[pos_in:]
    assert len(applied) == len(output_spans(edits))


def test_overlapping_edits_are_refused():
    text = "local weather change"
    with pytest.raises(EditConflict):
        apply_edits(text, [Edit(0, 13, "local weather", "climate"), Edit(6, 20, "weather change", "x")])


def test_stale_edit_is_refused():
    with pytest.raises(EditConflict):
        apply_edits("abc", [Edit(0, 1, "x", "y")])


def test_unapplied_edits_do_not_change_text():
    e = Edit(0, 6, "stated", "said", applied=False)
    assert apply_edits("stated it", [e]) == "stated it"
    assert apply_edits("stated it", [e], only_applied=False) == "said it"


def test_roundtrip_dict_and_stable_id():
    e = Edit(3, 9, "stated", "said", kind="spin", source="table:x:stated", score=0.91234, applied=True, reason="r",
             candidates=[{"text": "said", "score": 0.9}])
    d = e.to_dict()
    assert list(d)[:10] == ["id", "start", "end", "before", "after", "kind", "source", "score", "applied", "reason"]
    assert Edit.from_dict(d) == Edit.from_dict(Edit.from_dict(d).to_dict())
    assert Edit(3, 9, "stated", "said").id == e.id


def test_span_length_must_match_before():
    with pytest.raises(ValueError):
        Edit(0, 3, "ab", "x")
