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
    # Typed into the edit box key by key: app keys (a, n, e, q ...) must go to the Input, not the app.
    app, cap, _ = drive(s, "y", "n", "e", "ctrl+u", *"announced", "enter")
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
    """One app run, checked after each key: ambiguous filter, score filter, kind cycle, help, edit box, skip."""
    s = session(article)

    async def go():
        app = ReviewApp(s)
        async with app.run_test(size=(110, 32)) as pilot:
            async def press(*keys):
                await pilot.press(*keys)
                await pilot.pause()
                return text_capture(app)

            def shown():
                return [s.items[i].edit.before for i in s.visible()]

            cap = await press("m")                     # ambiguous: the mid-score "stated" edits
            assert shown() == ["stated"] * 3 and "ambiguous only" in cap
            cap = await press("m", *["plus"] * 9)        # minimum score 0.9: the "stated" edits (0.8954) go
            assert "score 0.90-1.00" in cap and len(shown()) == 8 and "stated" not in shown()
            await press(*["minus"] * 9)
            cap = await press("f")                     # kind cycles to "mt": only the duplicate word
            assert "kind=mt" in cap and s.items[app.cur].edit.source == "rule:duplicate-word"
            await press("f", "f")                      # ... then "spin", then back to all
            assert s.filter.kinds is None and len(shown()) == 11
            cap = await press("question_mark")
            assert type(app.screen) is HelpScreen and "accept / reject all remaining edits of this rule" in cap
            await press("escape")
            await press("e")
            assert type(app.screen) is EditScreen
            await press("escape")
            cap = await press("s")                     # one file only: nowhere to skip to
            assert "no further file" in cap and s.counts()["pending"] == 11
            await pilot.press("q")

    asyncio.run(go())


def test_conflict_message_shown(tmp_path):
    from cleaner import Edit
    from cleaner.review import Doc, Session, sha256
    text = "The compelled labor camps."
    doc = Doc(name="t", ident="t", text=text, sha256=sha256(text.encode()))
    s = Session([doc], [[Edit(4, 19, "compelled labor", "forced labor"), Edit(4, 13, "compelled", "forced", applied=False)]],
                str(tmp_path / "d.jsonl"), "tui")
    app, cap, _ = drive(s, "y", "k", "j", "y")
    assert "overlaps accepted edit" in cap and s.counts()["pending"] == 1


def test_candidates_shown_and_picked(tmp_path):
    from cleaner import Edit
    from cleaner.review import Doc, Session, sha256
    text = "The compelled labor camps."
    doc = Doc(name="t", ident="t", text=text, sha256=sha256(text.encode()))
    e = Edit(4, 19, "compelled labor", "forced labor", score=0.62, applied=False, source="model:rewriter@1",
             candidates=[{"text": "forced labor", "score": 0.62}, {"text": "forced labour", "score": 0.3},
                         {"text": "compelled labor", "score": 0.08}])
    s = Session([doc], [[e]], str(tmp_path / "d.jsonl"), "tui")
    app, cap, _ = drive(s)
    assert "2) forced labour  0.30" in cap and "3) compelled labor  0.08  (original wording)" in cap
    assert "score 0.62 (report)" in cap
    app, cap, _ = drive(s, "2")
    assert (s.items[0].decision, s.items[0].final) == ("accept", "forced labour") and "*2) forced labour" in cap


def test_seed_002_in_the_ui_then_resume_and_apply(tmp_path, monkeypatch, fast_cleaner):
    """The issue's scenario with the shipped tables: the first sitting in the UI (accept, reject,
    edit, quit), the second resumes in the UI, then --apply writes exactly the accepted edits."""
    from cleaner import Edit, apply_edits
    from cleaner.review import run
    from cleaner.tables import shipped_tables
    from test_review import _spun_article
    if not shipped_tables():
        pytest.skip("no shipped phrase tables in models/tables")
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "002.txt"
    shutil.copyfile(_spun_article(), p)
    orig = p.read_text(encoding="utf-8")

    def sitting(*keys):
        args = build_parser().parse_args(["review", "--fast", "--reviewer", "tui", "002.txt"])
        s, _ = build_session(args, fast_cleaner)
        return s, drive(s, *keys)

    s, _ = sitting()
    first = ["y" if s.items[0].proposes else "n", "n", "e", "ctrl+u", *"by hand"]
    s, (app, cap, _) = sitting(*first, "enter")
    assert s.counts()["edit"] == 1 and "1 edited" in cap
    s, (app, cap, _) = sitting("y" if s.items[3].proposes else "n")
    assert [it.decision != "pending" for it in s.items[:4]] == [True] * 4   # resumed at the 4th edit
    accepted = [it for it in s.items if it.accepted]
    assert run(build_parser().parse_args(["review", "--fast", "--apply", "002.txt"]), fast_cleaner) == 0
    assert p.read_text(encoding="utf-8") == apply_edits(
        orig, [Edit(it.edit.start, it.edit.end, it.edit.before, it.final) for it in accepted])
