"""LanguageTool second opinion: recorded /v2/check responses drive the response handling."""

import copy
import json
import os

import pytest

from cleaner import languagetool as lt
from cleaner.edits import Edit, apply_edits
from conftest import CASES

CASE_FILES = sorted(CASES.glob("languagetool_*.json"))


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def fake(responses, calls=None):
    def transport(text):
        if calls is not None:
            calls.append(text)
        if text not in responses:
            raise AssertionError(f"no recorded response for {text!r}")
        return copy.deepcopy(responses[text])
    return transport


def test_case_files_present():
    assert len(CASE_FILES) >= 6


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_recorded_response(path):
    c = load(path)
    checker = lt.LanguageToolChecker(fake(c["responses"]), server="recorded")
    new = checker.new_errors(c["before"], c["after"])
    assert [m["rule"] for m in new] == c["expect_new"]
    for m in new:
        assert c["after"][m["offset"]:m["offset"] + m["length"]] == m["text"]
        assert m["message"]
    if "expect_text" in c:
        assert [m["text"] for m in new] == c["expect_text"]


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_match_objects_from_language_tool_python(path):
    """The live client returns language_tool_python Match objects; they normalise the same way."""
    ltp = pytest.importorskip("language_tool_python")
    c = load(path)

    def transport(text):
        return [ltp.Match(copy.deepcopy(m), text) for m in c["responses"][text]["matches"]]

    new = lt.LanguageToolChecker(transport).new_errors(c["before"], c["after"])
    assert [m["rule"] for m in new] == c["expect_new"]
    for m in new:
        assert c["after"][m["offset"]:m["offset"] + m["length"]] == m["text"]


def _edit_for(c, source="model:rewriter@test"):
    """The case as an applied edit on a text with a neighbouring sentence."""
    b, a = c["before"], c["after"]
    s, e_after = lt.changed_region(b, a)
    e = len(b) - (len(a) - e_after)
    text = "An unrelated first sentence. " + b + " Another one follows."
    off = len("An unrelated first sentence. ")
    return text, Edit(off + s, off + e, b[s:e], a[s:e_after], source=source, score=0.95, applied=True, reason="r")


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_review_sets_verdict(path):
    c = load(path)
    text, edit = _edit_for(c)
    calls = []
    checker = lt.LanguageToolChecker(fake(c["responses"], calls), server="recorded")
    [out] = checker.review(text, [edit])
    assert calls == [c["before"], c["after"]]  # only the edit's sentence is sent
    verdict = out.meta["languagetool"]["verdict"]
    if c["expect_new"]:
        assert verdict == "refused" and not out.applied and "LanguageTool refused" in out.reason
        assert apply_edits(text, [out]) == text
    else:
        assert verdict == "ok" and out.applied
        assert c["after"] in apply_edits(text, [out])


def test_review_skips_tables_and_unapplied():
    c = load(CASES / "languagetool_article_agreement.json")
    text, table_edit = _edit_for(c, source="table:news-spinner:x")
    _, reported = _edit_for(c)
    reported.applied = False
    checker = lt.LanguageToolChecker(fake({}), server="recorded")  # any call would fail
    out = checker.review(text, [table_edit]) + checker.review(text, [reported])
    assert all("languagetool" not in e.meta for e in out)
    assert out[0].applied and not out[1].applied


def test_server_failure_keeps_edit_and_records_error():
    c = load(CASES / "languagetool_clean_rewrite.json")
    text, edit = _edit_for(c)

    def broken(_):
        raise ConnectionError("connection reset")

    [out] = lt.LanguageToolChecker(broken, server="http://x").review(text, [edit])
    assert out.applied and out.meta["languagetool"]["verdict"] == "error"


def test_results_are_cached():
    c = load(CASES / "languagetool_clean_rewrite.json")
    calls = []
    checker = lt.LanguageToolChecker(fake(c["responses"], calls))
    checker.new_errors(c["before"], c["after"])
    checker.new_errors(c["before"], c["after"])
    assert len(calls) == 2
    assert checker.new_errors(c["before"], c["before"]) == []


def test_sentence_bounds():
    text = "First one. The second sentence is here! Third.\n\nNew paragraph"
    i = text.index("second")
    a, b = lt.sentence_bounds(text, i, i + 6)
    assert text[a:b] == "The second sentence is here!"
    j = text.index("paragraph")
    a, b = lt.sentence_bounds(text, j, j + 3)
    assert text[a:b] == "New paragraph"


def test_unreachable_server_turns_feature_off():
    pytest.importorskip("language_tool_python")
    # Port 9 (discard) on localhost: connection refused at once, no network needed.
    assert lt.LanguageToolChecker.from_config("http://127.0.0.1:9") is None
    assert lt.why_not.startswith("LanguageTool off:") and "\n" not in lt.why_not


def test_no_server_no_local_install(monkeypatch, tmp_path):
    pytest.importorskip("language_tool_python")
    monkeypatch.delenv("LANGUAGETOOL_URL", raising=False)
    monkeypatch.setenv("LTP_PATH", str(tmp_path))  # an empty cache: nothing installed, nothing downloaded
    assert lt.LanguageToolChecker.from_config(None) is None
    assert "no server configured" in lt.why_not
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.environ.get("LANGUAGETOOL_URL"), reason="set LANGUAGETOOL_URL to run against a server")
def test_live_server():
    checker = lt.LanguageToolChecker.from_config(os.environ["LANGUAGETOOL_URL"])
    assert checker is not None, lt.why_not
    assert checker.new_errors("They reported an unusual result.", "They reported an unusual result.") == []
    new = checker.new_errors("They reported an unusual result.", "They reported an strange result.")
    assert any(m["rule"] == "EN_A_VS_AN" for m in new)
    assert checker.new_errors("We used compelled labor.", "We used forced labor.") == []
