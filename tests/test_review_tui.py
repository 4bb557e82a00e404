"""The Textual review UI driven headlessly with App.run_test() / Pilot."""

import asyncio
import json
import shutil

import pytest

pytest.importorskip("textual")

from cleaner.cli import build_parser  # noqa: E402
from cleaner.review import build_session  # noqa: E402
from cleaner.review_tui import EditScreen, HelpScreen, ReviewApp, text_capture  # noqa: E402

from conftest import ROOT  # noqa: E402

DEMO = str(ROOT / "tests" / "fixtures" / "demo.tsv")


@pytest.fixture
def article(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "article.txt"
    shutil.copyfile(ROOT / "samples" / "spun-article.txt", p)
    return p


def session(path, *extra):
    args = build_parser().parse_args(["review", "--fast", "--tables", DEMO, "--reviewer", "tui", *extra, str(path)])
    s, problems = build_session(args)
    assert not problems
    return s


def drive(s, *keys, size=(110, 32), then=None):
    """Run the app on session `s`, press keys, return (app, text capture, then(app) result)."""
    out = {}

    async def go():
        app = ReviewApp(s)
        async with app.run_test(size=size) as pilot:
            for k in keys:
                if isinstance(k, tuple):      # ("type", "text"): fill the focused Input
                    app.screen.query_one("Input").value = k[1]
                else:
                    await pilot.press(k)
                await pilot.pause()
            out["capture"] = text_capture(app)
            out["then"] = then(app) if then else None
            out["app"] = app
            await pilot.press("q")

    asyncio.run(go())
    return out["app"], out["capture"], out["then"]


def decisions(s):
    return [(it.edit.before, it.decision, it.final) for it in s.items if it.decision != "pending"]


def test_accept_reject_edit_and_log(article, tmp_path):
    s = session(article)
    app, cap, _ = drive(s, "y", "n", "e", ("type", "announced"), "enter")
    assert decisions(s) == [("local weather change", "accept", "climate change"), ("Home", "reject", None),
                            ("stated", "edit", "announced")]
    assert s.items[app.cur].edit.start == 382           # moved on to the next pending edit
    assert "[-local weather change-]{+climate change+}" in cap and "1 accepted  1 edited  1 rejected" in cap
    log = [json.loads(x) for x in (tmp_path / "cleaner-review.jsonl").read_text().splitlines()]
    assert [r["decision"] for r in log] == ["accept", "reject", "edit"] and {r["user"] for r in log} == {"tui"}


def test_edit_escape_cancels(article):
    s = session(article)
    drive(s, "e", ("type", "nope"), "escape", then=lambda app: None)
    assert s.counts()["pending"] == 11


def test_bulk_accept_phrase_then_rule_and_undo(article):
    s = session(article)
    # j j to the first "stated", a = all three "stated"; then A on the next = rest of the demo table.
    app, cap, _ = drive(s, "j", "j", "a")
    assert [it.edit.before for it in s.items if it.decision == "accept"] == ["stated"] * 3
    assert "accepted 3 edits of this phrase" in cap
    drive(s, "A")
    assert s.counts() == {"pending": 1, "accept": 10, "reject": 0, "edit": 0}   # duplicate-word is another rule
    app, _, _ = drive(s, "u")
    assert s.counts()["accept"] == 3


def test_resume_after_quit_starts_at_first_pending(article):
    s = session(article)
    drive(s, "y", "y", "n", "q")
    again = session(article)
    app, cap, _ = drive(again)
    assert app.cur == 3 and again.counts() == {"pending": 8, "accept": 2, "reject": 1, "edit": 0}
    assert "[4/11]" in cap


def test_apply_after_tui_review(article, tmp_path):
    orig = article.read_text()
    s = session(article)
    drive(s, "y", "n")
    changed, problems = session(article).apply_files(str(tmp_path / "audit.jsonl"))
    assert (changed, problems) == (1, [])
    assert article.read_text() == orig.replace("local weather change", "climate change", 1)


def test_filters_help_and_skip(article):
    s = session(article)
    app, cap, screen = drive(s, "m", then=lambda app: [s.items[i].edit.before for i in s.visible()])
    assert screen == ["stated"] * 3 and "ambiguous only" in cap
    s.filter.ambiguous = False
    app, cap, screen = drive(s, "question_mark", then=lambda app: type(app.screen))
    assert screen is HelpScreen and "accept / reject all remaining edits of this rule" in cap
    app, cap, screen = drive(s, "e", then=lambda app: type(app.screen))
    assert screen is EditScreen
    app, cap, _ = drive(s, "f")                       # kind cycles to "mt": only the duplicate word
    assert "kind=mt" in cap and s.items[app.cur].edit.source == "rule:duplicate-word"
    s.filter.kinds = None
    app, cap, _ = drive(s, "s")                       # one file only: nowhere to skip to
    assert "no further file" in cap


def test_conflict_message_shown(tmp_path):
    from cleaner import Edit
    from cleaner.review import Doc, Session, sha256
    text = "The compelled labor camps."
    doc = Doc(name="t", ident="t", text=text, sha256=sha256(text.encode()))
    s = Session([doc], [[Edit(4, 19, "compelled labor", "forced labor"), Edit(4, 13, "compelled", "forced", applied=False)]],
                str(tmp_path / "d.jsonl"), "tui")
    app, cap, _ = drive(s, "y", "k", "j", "y")
    assert "overlaps accepted edit" in cap and s.counts()["pending"] == 1
