"""Textual front end of `cleaner review`: one proposed edit at a time, in its sentence and paragraph.

All state lives in `cleaner.review.Session`, which logs each decision as it is made; this module
only draws it and maps keys to Session calls (key list: cleaner.review.KEYS).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from cleaner.review import KEYS, ReviewError, Session, describe, paragraph_span, segments, sentence_span

STYLES = {"del": "strike red", "ins": "bold green", "done": "green", "other": "underline yellow", "": ""}
STATE_STYLE = {"pending": "bold yellow", "accept": "bold green", "edit": "bold cyan", "reject": "bold red"}


MARKS = {"del": ("[-", "-]"), "ins": ("{+", "+}")}  # wdiff marks: readable without colour or strike-through


def styled(runs: list[tuple[str, str]]) -> Text:
    t = Text()
    for style, s in runs:
        a, b = MARKS.get(style, ("", ""))
        t.append(a + s + b, STYLES[style])
    return t


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static { width: 96; height: auto; border: round $accent; padding: 1 2; background: $panel; }
    """

    def compose(self) -> ComposeResult:
        t = Text("cleaner review: keys\n\n", style="bold")
        for k, v in KEYS:
            t.append(f"{k:11}", "bold cyan")
            t.append(v + "\n")
        t.append("\nDecisions are saved as you go; `cleaner review --apply ...` writes them.", "dim")
        yield Static(t)


class EditScreen(ModalScreen[str | None]):
    """Type the replacement by hand; enter saves, escape cancels."""
    BINDINGS = [Binding("escape", "cancel", "cancel")]
    DEFAULT_CSS = """
    EditScreen { align: center middle; }
    EditScreen > Static { width: 80; height: auto; padding: 0 1; background: $panel; }
    EditScreen > Input { width: 80; }
    """

    def __init__(self, before: str, current: str):
        super().__init__()
        self.before, self.current = before, current

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble("Replacement for ", (self.before, "bold red"), " (enter saves, escape cancels):"))
        yield Input(value=self.current, id="replacement")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReviewApp(App[None]):
    TITLE = "cleaner review"
    ENABLE_COMMAND_PALETTE = False  # every command has a key; the palette would only take footer space
    CSS = """
    #meta { height: auto; padding: 0 1; background: $boost; }
    #sentence { height: auto; padding: 1 1 0 1; }
    #para-box { height: auto; max-height: 60%; border: round $primary-darken-2; padding: 0 1; }
    #message { height: auto; padding: 0 1; }
    #cands { height: auto; padding: 0 1; }
    #status { height: auto; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("y,enter", "accept", "accept"),
        Binding("n", "reject", "reject"),
        Binding("e", "edit", "edit"),
        Binding("a", "decide_all('phrase', 'accept')", "all phrase"),
        Binding("r", "decide_all('phrase', 'reject')", "reject phrase", show=False),
        Binding("A", "decide_all('rule', 'accept')", "all rule", show=False),
        Binding("R", "decide_all('rule', 'reject')", "reject rule", show=False),
        Binding("j,down", "move(1)", "next"),
        Binding("k,up", "move(-1)", "prev"),
        Binding("u", "undo", "undo"),
        Binding("s", "skip_file", "skip"),
        Binding("f", "cycle_kind", "kind", show=False),
        Binding("m", "toggle_ambiguous", "ambiguous", show=False),
        Binding("plus", "min_score(0.1)", "score+", show=False),
        Binding("minus", "min_score(-0.1)", "score-", show=False),
        Binding("question_mark", "help", "help"),
        Binding("q", "quit", "quit"),
    ] + [Binding(str(n), f"pick({n})", f"candidate {n}", show=False) for n in range(1, 10)]

    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        self.cur: int | None = None
        self.message = Text("")
        self._kinds = [None] + sorted({it.edit.kind for it in session.items})

    def compose(self) -> ComposeResult:
        yield Static(id="meta")
        yield Static(id="sentence")
        with VerticalScroll(id="para-box"):
            yield Static(id="paragraph")
        yield Static(id="cands")
        yield Static(id="message")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        vis = self.session.visible()
        self.cur = self.session.first_pending()
        if self.cur is None and vis:
            self.cur = vis[0]
        self.refresh_view()

    # -- drawing ----------------------------------------------------------------------------
    @property
    def item(self):
        return None if self.cur is None else self.session.items[self.cur]

    def refresh_view(self) -> None:
        s = self.session
        vis = s.visible()
        meta, sentence, para, cands = (self.query_one(f"#{i}", Static) for i in ("meta", "sentence", "paragraph", "cands"))
        it = self.item
        if it is None or self.cur not in vis:
            meta.update(Text(f"no edits match the filter ({s.filter.describe()})", "bold"))
            sentence.update("")
            para.update("")
            cands.update("")
        else:
            e = it.edit
            head = Text(describe(it, vis.index(self.cur) + 1, len(vis)))
            head.highlight_words([it.decision], STATE_STYLE[it.decision])
            meta.update(head)
            sentence.update(Text.assemble(("sentence  ", "dim"), styled(segments(it, s.items, sentence_span(it.doc.text, e.start, e.end)))))
            para.update(styled(segments(it, s.items, paragraph_span(it.doc.text, e.start, e.end))))
            lines = Text()
            if e.reason:
                lines.append(f"reason    {e.reason}\n", "dim")
            if not it.proposes:
                lines.append("flagged only, no replacement proposed: e types one, n dismisses\n", "bold yellow")
            for n, c in enumerate((e.candidates or [])[:9], 1):
                mark = "*" if it.candidate == n - 1 else " "
                keep = "  (original wording)" if c.get("text") == e.before else ""
                lines.append(f"{mark}{n}) {c.get('text')}  {float(c.get('score', 0)):.2f}{keep}\n")
            cands.update(lines)
        c = s.counts()
        status = Text(f"{c['accept']} accepted  {c['edit']} edited  {c['reject']} rejected  {c['pending']} pending"
                      f"  |  filter: {s.filter.describe()}")
        self.query_one("#status", Static).update(status)
        self.query_one("#message", Static).update(self.message)

    def say(self, msg: str, style: str = "") -> None:
        self.message = Text(msg, style)

    # -- actions ----------------------------------------------------------------------------
    def _after_decision(self) -> None:
        nxt = self.session.first_pending(self.cur + 1)
        if nxt is None:
            self.say("all edits decided: q quits, then `cleaner review --apply` writes them", "bold green")
        else:
            self.cur = nxt
        self.refresh_view()

    def _do(self, fn, *a) -> bool:
        if self.item is None or self.cur not in self.session.visible():
            return False
        try:
            fn(self.item, *a)
        except ReviewError as err:
            self.say(str(err), "bold red")
            self.refresh_view()
            return False
        self.say("")
        self._after_decision()
        return True

    def action_accept(self) -> None:
        self._do(self.session.decide, "accept")

    def action_reject(self) -> None:
        self._do(self.session.decide, "reject")

    def action_pick(self, n: int) -> None:
        self._do(self.session.pick, n - 1)

    def action_edit(self) -> None:
        it = self.item
        if it is None:
            return

        def done(value: str | None) -> None:
            if value is not None and value != "":
                self._do(self.session.decide, "edit", value)

        self.push_screen(EditScreen(it.edit.before, it.final if it.accepted else it.edit.after), done)

    def action_decide_all(self, scope: str, decision: str) -> None:
        if self.item is None:
            return
        try:
            n = self.session.decide_all(self.item, scope, decision)
        except ReviewError as err:
            self.say(str(err), "bold red")
            self.refresh_view()
            return
        what = "phrase" if scope == "phrase" else f"rule {self.item.rule_key()}"
        self._after_decision()
        self.say(f"{decision}ed {n} edit{'' if n == 1 else 's'} of this {what}", "bold")
        self.refresh_view()

    def action_move(self, step: int) -> None:
        vis = self.session.visible()
        if not vis:
            return
        pos = vis.index(self.cur) if self.cur in vis else 0
        self.cur = vis[max(0, min(len(vis) - 1, pos + step))]
        self.say("")
        self.refresh_view()

    def action_undo(self) -> None:
        try:
            back = self.session.undo()
        except ReviewError as err:
            self.say(str(err), "bold red")
            self.refresh_view()
            return
        if back is None:
            self.say("nothing to undo")
        else:
            self.cur = self.session.items.index(back)
            self.say("undone")
        self.refresh_view()

    def action_skip_file(self) -> None:
        if self.cur is None:
            return
        nxt = self.session.next_doc(self.cur)
        if nxt is None:
            self.say("no further file")
        else:
            first = self.session.first_pending(nxt, wrap=False)
            self.cur = nxt if first is None else first
            self.say("")
        self.refresh_view()

    def _refilter(self) -> None:
        vis = self.session.visible()
        if self.cur not in vis:
            self.cur = self.session.first_pending() if self.session.first_pending() is not None else (vis[0] if vis else None)
        self.refresh_view()

    def action_cycle_kind(self) -> None:
        f = self.session.filter
        cur = next(iter(f.kinds)) if f.kinds and len(f.kinds) == 1 else None
        i = self._kinds.index(cur) if cur in self._kinds else 0
        nxt = self._kinds[(i + 1) % len(self._kinds)]
        f.kinds = frozenset([nxt]) if nxt else None
        self._refilter()

    def action_toggle_ambiguous(self) -> None:
        self.session.filter.ambiguous = not self.session.filter.ambiguous
        self._refilter()

    def action_min_score(self, step: float) -> None:
        f = self.session.filter
        f.min_score = round(max(0.0, min(1.0, f.min_score + step)), 2)
        self._refilter()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())


def text_capture(app: App) -> str:
    """The screen as plain text (what export_screenshot draws as SVG), for docs and tests."""
    import io

    from rich.console import Console

    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), record=True,
                      force_terminal=True, color_system=None, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return "\n".join(line.rstrip() for line in console.export_text(styles=False).splitlines())
