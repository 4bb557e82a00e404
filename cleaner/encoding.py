"""Optional first step of `cleaner clean --fix-encoding`: mojibake repair with ftfy, as `encoding` edits.

Only ftfy's encoding fixes run (no quote uncurling, no NFC, no HTML unescaping, no line-break
changes), so clean text is never touched. The cleaner then runs on the repaired text and
`compose` maps its edits back to offsets in the original text, merging any edit that overlaps
a repair, so `apply_edits(original, edits)` gives the final text and `revert_edits` the original.
"""

from __future__ import annotations

import difflib
from dataclasses import replace

from .edits import Edit

SOURCE = "rule:ftfy"


def _config():
    import ftfy
    return ftfy.TextFixerConfig(unescape_html=False, remove_terminal_escapes=False, fix_latin_ligatures=False,
                                fix_character_width=False, uncurl_quotes=False, fix_line_breaks=False,
                                remove_control_chars=False, normalization=None, explain=False)


_CFG = None


def repair(text: str) -> tuple[str, list[Edit]]:
    """The repaired text and one applied `encoding` edit per changed stretch (offsets into `text`)."""
    global _CFG
    import ftfy
    if _CFG is None:
        _CFG = _config()
    fixed = ftfy.fix_text(text, _CFG)
    if fixed == text:
        return text, []
    a_lines, b_lines = text.split("\n"), fixed.split("\n")
    if len(a_lines) != len(b_lines):  # never seen with fix_line_breaks off; diff the whole text then
        a_lines, b_lines = [text], [fixed]
    edits: list[Edit] = []
    pos = 0
    for a, b in zip(a_lines, b_lines):
        if a != b:
            sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
            for tag, i1, i2, j1, j2 in _grouped(sm.get_opcodes()):
                edits.append(Edit(pos + i1, pos + i2, a[i1:i2], b[j1:j2], kind="encoding", source=SOURCE,
                                  score=1.0, applied=True, reason="mojibake repaired (ftfy)"))
        pos += len(a) + 1
    return fixed, edits


def _grouped(ops):
    """Merge change opcodes separated by at most one unchanged character into one edit."""
    out = []
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            continue
        if out and i1 - out[-1][2] <= 1 and j1 - out[-1][4] <= 1:
            out[-1] = ("replace", out[-1][1], i2, out[-1][3], j2)
        else:
            out.append((tag, i1, i2, j1, j2))
    return out


def compose(original: str, enc: list[Edit], fixed: str, later: list[Edit]) -> list[Edit]:
    """Edits on `original` equivalent to `enc` (original -> fixed) followed by `later` (on `fixed`)."""
    if not enc:
        return later
    # Output span of each repair in `fixed`, and the offset shift after it.
    spans, shift = [], 0
    for e in sorted(enc, key=lambda e: e.start):
        s = e.start + shift
        spans.append((s, s + len(e.after), e))
        shift += len(e.after) - len(e.before)

    def to_orig(p: int, is_end: bool) -> int:
        d = 0
        for s, t, e in spans:
            if t < p or (t == p and (s < p or not is_end)):
                d += len(e.after) - len(e.before)
        return p - d

    merged_into: dict[int, list[Edit]] = {}
    out: list[Edit] = []
    for x in later:
        hit = [i for i, (s, t, _) in enumerate(spans) if (s < x.end and x.start < t) or (s == t and x.start < s < x.end)]
        if not hit:
            a, b = to_orig(x.start, False), to_orig(x.end, True)
            out.append(replace(x, start=a, end=b, id=""))
            continue
        if not x.applied:
            # A suggestion across a repair cannot stand beside it: keep the repair, note the suggestion.
            spans[hit[0]][2].meta.setdefault("suggestions", []).append(x.to_dict())
            continue
        s = min(x.start, spans[hit[0]][0])
        t = max(x.end, spans[hit[-1]][1])
        a, b = to_orig(s, False), to_orig(t, True)
        after = fixed[s:x.start] + x.after + fixed[x.end:t]
        meta = dict(x.meta, encoding=[spans[i][2].to_dict() for i in hit])
        out.append(replace(x, start=a, end=b, before=original[a:b], after=after, id="", meta=meta))
        for i in hit:
            merged_into[i] = True
    out.extend(e for i, (_, _, e) in enumerate(spans) if i not in merged_into)
    return sorted(out, key=lambda e: (e.start, e.end))
