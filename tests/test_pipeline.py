"""How the Cleaner orchestrates its stages: table hits, detector spans, rewrites, vetoes.

The neural models are replaced by small deterministic stand-ins with the documented interfaces
(docs/architecture.md, "Neural stages"), so these tests run without torch and check the
pipeline's own decisions; the real models have their own tests.
"""

import json
from pathlib import Path

import pytest

from cleaner.detector import DetectorOutput, Span
from cleaner.edits import Edit, apply_edits, revert_edits
from cleaner.languagetool import LanguageToolChecker
from cleaner.pipeline import Cleaner
from cleaner.tables import Entry

CASES = Path(__file__).parent / "cases"
TEXT = "The ministry stated the counterfeit consciousness system flunked its audit final month."


class FakeDetector:
    version = "test"

    def __init__(self, spans, word_p=0.9, doc_score=0.9, label="spin", doc_without=None, weak=()):
        self.spans, self.word_p, self.doc_score, self.label = spans, word_p, doc_score, label
        self.weak = set(weak)
        self.doc_without = doc_score if doc_without is None else doc_without

    def doc_score_without(self, text, out, start, end):
        return self.doc_without

    def detect_batch(self, texts, skips):
        outs = []
        for text, skip in zip(texts, skips):
            spans = [Span(text.index(p), text.index(p) + len(p), 0.95, self.label, weak=p in self.weak)
                     for p in self.spans if p in text]
            words = [(s.start, s.end, 0.95) for s in spans]
            if "stated" in text:
                i = text.index("stated")
                words.append((i, i + 6, self.word_p))
            outs.append(DetectorOutput(words=words, spans=spans, doc_score=self.doc_score))
        return outs


class FakeRewriter:
    def __init__(self, mapping, score=0.97):
        self.mapping, self.score = mapping, score

    def rewrite(self, text, spans):
        out = []
        for s in spans:
            before = text[s.start:s.end]
            after = self.mapping.get(before, before)
            out.append(Edit(s.start, s.end, before, after, kind="mt" if s.label == "mt" else "spin", source="model:rewriter@test",
                            score=self.score, applied=self.score >= 0.9, reason="test rewrite",
                            candidates=[{"text": after, "score": self.score}]))
        return out


ENTRIES = [Entry("stated", "said", 0.6, (), "news-spinner", "spin", 1),
           Entry("final month", "last month", 0.99, (), "news-spinner", "spin", 2)]


def make(stages, detector=None, rewriter=None, lt=None):
    c = Cleaner(stages=stages, entries=ENTRIES)
    c._models.update({"detector": detector, "rewriter": rewriter})
    if lt is not None:
        c._models["languagetool"] = lt
    return c


def test_detector_span_goes_to_rewriter_and_only_it_changes():
    c = make(("tables", "mt", "detector", "rewriter"), FakeDetector(["counterfeit consciousness", "flunked"]),
             FakeRewriter({"counterfeit consciousness": "artificial intelligence", "flunked": "failed"}))
    r = c.clean(TEXT)
    assert r.text == "The ministry said the artificial intelligence system failed its audit last month."
    sources = {e.before: e.source for e in r.edits}
    assert sources["counterfeit consciousness"] == "model:rewriter@test"
    assert sources["final month"].startswith("table:news-spinner")
    assert revert_edits(r.text, r.edits) == TEXT
    assert apply_edits(TEXT, r.edits) == r.text


def test_low_confidence_rewrite_is_reported_not_applied():
    c = make(("tables", "detector", "rewriter"), FakeDetector(["flunked"]), FakeRewriter({"flunked": "failed"}, 0.5))
    r = c.clean(TEXT)
    e = next(e for e in r.edits if e.before == "flunked")
    assert not e.applied and e.after == "failed"
    assert "flunked" in r.text


def test_model_rewrite_in_a_document_that_reads_clean_is_reported_only():
    text = "The committee met for 12 months before it reported."
    c = make(("detector", "rewriter"), FakeDetector(["12 months"], doc_score=0.6),
             FakeRewriter({"12 months": "year"}))
    r = c.clean(text)
    [e] = r.edits
    assert (e.after, e.applied) == ("year", False) and "reads as clean" in e.reason
    assert r.text == text and r.spin_score < 0.5
    # The same rewrite applies once the document reads as spun ...
    r = make(("detector", "rewriter"), FakeDetector(["12 months"], doc_score=0.9),
             FakeRewriter({"12 months": "year"})).clean(text)
    assert r.text == "The committee met for year before it reported."
    # ... but not when the span alone makes it read as spun ...
    r = make(("detector", "rewriter"), FakeDetector(["12 months"], doc_score=0.99, doc_without=0.1),
             FakeRewriter({"12 months": "year"})).clean(text)
    [e] = r.edits
    assert r.text == text and not e.applied and "without this span" in e.reason
    # ... and an MT repair applies in any document.
    text = "It met for for 12 months."
    r = make(("detector", "rewriter"), FakeDetector(["for for"], doc_score=0.1, label="mt"),
             FakeRewriter({"for for": "for"})).clean(text)
    assert r.text == "It met for 12 months."


def test_rewrite_of_a_span_only_the_long_document_rule_found_is_reported_only():
    text = "The committee met for 12 months and the minister stated it."
    r = make(("detector", "rewriter"), FakeDetector(["12 months", "stated"], doc_score=0.99, weak={"stated"}),
             FakeRewriter({"12 months": "year", "stated": "said"})).clean(text)
    e = {x.before: x for x in r.edits}
    assert e["12 months"].applied and not e["stated"].applied and e["stated"].after == "said"
    assert "long-document rule" in e["stated"].reason
    assert r.text == "The committee met for year and the minister stated it."


def test_detector_vetoes_ambiguous_table_hit_in_clean_context():
    c = make(("tables", "detector"), FakeDetector([], word_p=0.0001))
    r = c.clean(TEXT)
    e = next(e for e in r.edits if e.before == "stated")
    assert not e.applied and "detector sees clean context" in e.reason
    assert "stated" in r.text and "last month" in r.text


def test_detector_only_flags_without_changing():
    c = make(("detector",), FakeDetector(["flunked"]))
    r = c.clean(TEXT)
    assert r.text == TEXT
    [e] = r.edits
    assert (e.before, e.after, e.applied, e.source) == ("flunked", "flunked", False, "model:detector@test")


def test_detector_spans_inside_code_or_table_hits_are_ignored():
    text = "Run `counterfeit consciousness` now; it flunked final month."
    c = make(("tables", "detector", "rewriter"), FakeDetector(["counterfeit consciousness", "final month"]),
             FakeRewriter({"counterfeit consciousness": "artificial intelligence", "final month": "WRONG"}))
    r = c.clean(text, "a.md")
    assert r.text == "Run `counterfeit consciousness` now; it flunked last month."


@pytest.mark.parametrize("case", sorted(CASES.glob("languagetool_*.json")), ids=lambda p: p.stem)
def test_languagetool_verdict_recorded_on_model_rewrites(case):
    data = json.loads(case.read_text(encoding="utf-8"))
    before, after = data["before"], data["after"]
    # the changed words of the recorded pair become the detector span and the rewrite
    i = 0
    while before[i] == after[i]:
        i += 1
    j, k = len(before), len(after)
    while before[j - 1] == after[k - 1] and j > i and k > i:
        j, k = j - 1, k - 1
    while i > 0 and before[i - 1].isalnum():
        i -= 1
    span, repl = before[i:j], after[i:k]
    lt = LanguageToolChecker(lambda t: data["responses"][t], server="recorded")
    c = make(("detector", "rewriter"), FakeDetector([span]), FakeRewriter({span: repl}), lt)
    r = c.clean(before)
    [e] = [e for e in r.edits if e.source == "model:rewriter@test"]
    verdict = e.meta["languagetool"]["verdict"]
    assert verdict in ("ok", "refused")
    assert e.applied == (verdict == "ok")
    assert r.text == (after if verdict == "ok" else before)
    assert (verdict == "refused") == bool(data["expect_new"])


def test_unknown_stage_is_an_error():
    with pytest.raises(ValueError):
        Cleaner(stages=("tables", "magic"))


class FakeBatchRewriter(FakeRewriter):
    def __init__(self, mapping, score=0.97):
        super().__init__(mapping, score)
        self.calls = []

    def rewrite_many(self, items):
        items = list(items)
        self.calls.append(len(items))
        return [self.rewrite(t, s) for t, s in items]


def test_clean_batch_sends_the_spans_of_all_texts_in_one_rewriter_call():
    texts = ["The committee met for 12 months before it reported.", "Nothing to see.",
             "They flunked the test for 12 months."]
    rw_ = FakeBatchRewriter({"12 months": "year", "flunked": "failed"})
    c = make(("detector", "rewriter"), FakeDetector(["12 months", "flunked"]), rw_)
    batch = c.clean_batch(texts)
    assert rw_.calls == [2]  # one call, for the two texts with spans
    single = [make(("detector", "rewriter"), FakeDetector(["12 months", "flunked"]),
                   FakeRewriter({"12 months": "year", "flunked": "failed"})).clean(t) for t in texts]
    assert [r.text for r in batch] == [r.text for r in single]
    assert [[e.to_dict() for e in r.edits] for r in batch] == [[e.to_dict() for e in r.edits] for r in single]
    assert batch[2].text == "They failed the test for year."


@pytest.mark.parametrize("text, hit, after, expected", [
    ("Its gross domestic output (GDP) grew.", "domestic output (GDP)", "gross domestic product (GDP)", "domestic product (GDP)"),
    ("A profound neural system network.", "profound neural system", "deep neural network", "deep neural"),
    ("The domestic output (GDP) grew.", "domestic output (GDP)", "gross domestic product (GDP)", "gross domestic product (GDP)"),
    ("Gross output data.", "output", "gross output", "output"),  # case does not matter
    ("The data data set.", "data set", "data collection", "data collection"),  # the hit's own word: kept
    ("An attainable trip.", "attainable", "possible", "possible"),
])
def test_canonical_does_not_repeat_the_word_beside_the_hit(text, hit, after, expected):
    from cleaner.pipeline import _without_echo
    s = text.index(hit)
    assert _without_echo(text, s, s + len(hit), after) == expected
