"""Plain prompt review, one edit at a time on stdin/stdout (like `codespell -i`).

Used with `--plain`, and automatically when stdout is not a terminal. Without a terminal the
change is marked wdiff-style, `[-before-]{+after+}`; on a terminal it is coloured.
"""

from __future__ import annotations

import re

from cleaner.review import KEYS, Item, ReviewError, Session, describe, segments, sentence_span

PROMPT = "[y]es [n]o [1-9] candidate [e]dit [a/r] phrase [A/R] rule [j/k] next/prev [u]ndo [s]kip file [q]uit [?] > "
_COLOR = {"del": "\x1b[9;31m", "ins": "\x1b[1;32m", "done": "\x1b[32m", "other": "\x1b[4m"}
_MARK = {"del": ("[-", "-]"), "ins": ("{+", "+}"), "done": ("", ""), "other": ("", "")}


def render(it: Item, session: Session, color: bool) -> str:
    s, t = sentence_span(it.doc.text, it.edit.start, it.edit.end)
    runs = []
    for style, text in segments(it, session.items, (s, t)):
        text = re.sub(r"\s+", " ", text) if style == "" else text
        if color and style:
            runs.append(f"{_COLOR[style]}{text}\x1b[0m")
        else:
            a, b = _MARK.get(style, ("", ""))
            runs.append(f"{a}{text}{b}")
    return "  " + "".join(runs).strip()


def candidates(it: Item) -> str:
    cands = it.edit.candidates or []
    return "  candidates: " + "  ".join(f"{i}) {c.get('text')} {float(c.get('score', 0)):.2f}"
                                        for i, c in enumerate(cands[:9], 1)) if cands else ""


def review_plain(session: Session, stdin, out) -> None:
    color = hasattr(out, "isatty") and out.isatty()

    def say(msg: str = "") -> None:
        print(msg, file=out, flush=True)

    vis = session.visible()
    cur = session.first_pending()
    if cur is None:
        say("every edit has a decision; nothing left to review")
        return
    while cur is not None:
        it = session.items[cur]
        say()
        say(describe(it, vis.index(cur) + 1, len(vis)))
        say(render(it, session, color))
        if it.edit.reason:
            say(f"  reason: {it.edit.reason}")
        if not it.proposes:
            say("  flagged only, no replacement proposed: e types one, n dismisses")
        if candidates(it):
            say(candidates(it))
        out.write(PROMPT)
        out.flush()
        line = stdin.readline()
        if not line:  # end of input: stop cleanly, decisions so far are saved
            say()
            return
        key = line.strip()
        if not (hasattr(stdin, "isatty") and stdin.isatty()):
            say(key)  # echo piped answers so a transcript reads like a session
        try:
            nxt = _act(session, it, cur, key, stdin, out, say)
        except ReviewError as err:
            say(f"  ! {err}")
            continue
        if nxt == "quit":
            return
        vis = session.visible()
        cur = nxt
        if cur is None:
            cur = session.first_pending()
            if cur is None:
                say("\nall edits decided")


def _act(session: Session, it: Item, cur: int, key: str, stdin, out, say):
    """Carry out one key; return the next item index, None for 'next pending', or 'quit'."""
    vis = session.visible()
    pos = vis.index(cur) if cur in vis else 0
    if key in ("y", "yes", ""):
        session.decide(it, "accept")
    elif key in ("n", "no"):
        session.decide(it, "reject")
    elif key.isdigit() and key != "0":
        session.pick(it, int(key) - 1)
    elif key == "e":
        out.write(f"  replacement for {it.edit.before!r} (empty cancels) > ")
        out.flush()
        text = stdin.readline().rstrip("\r\n")
        if not (hasattr(stdin, "isatty") and stdin.isatty()):
            say(text)
        if not text:
            return cur
        session.decide(it, "edit", text)
    elif key in ("a", "r", "A", "R"):
        n = session.decide_all(it, "phrase" if key in "ar" else "rule", "accept" if key.lower() == "a" else "reject")
        say(f"  {'accepted' if key.lower() == 'a' else 'rejected'} {n} edit{'' if n == 1 else 's'}")
    elif key == "j":
        return vis[min(pos + 1, len(vis) - 1)]
    elif key == "k":
        return vis[max(pos - 1, 0)]
    elif key == "u":
        back = session.undo()
        if back is None:
            say("  nothing to undo")
            return cur
        return session.items.index(back)
    elif key == "s":
        nxt = session.next_doc(cur)
        if nxt is None:
            say("  no further file")
            return cur
        first = session.first_pending(nxt, wrap=False)
        return nxt if first is None else first
    elif key == "q":
        return "quit"
    elif key == "?":
        for k, v in KEYS:
            if k not in ("f", "m", "+ / -"):  # filters are command-line options in plain mode
                say(f"  {k:10} {v}")
        return cur
    else:
        say(f"  unknown key {key!r}; ? for help")
        return cur
    return session.first_pending(cur + 1)
