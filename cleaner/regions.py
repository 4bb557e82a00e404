"""Spans of a document that must never be edited.

Code (fenced, indented in Markdown, inline, <pre>/<code>), URLs and e-mail addresses, HTML tags
with their attributes, <script>/<style> bodies, and the user's directives:
`cleaner: ignore` (that line), `cleaner: off` ... `cleaner: on` (a block). Directives work in any
comment syntax, e.g. `<!-- cleaner: off -->` or `.. cleaner: ignore`.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]{0,3}\1[ \t]*$|\Z)", re.M | re.S)
_INLINE_CODE = re.compile(r"(`+)[^`\n](?:.*?[^`])??\1(?!`)", re.S)
_RAW_BLOCK = re.compile(r"<(script|style|pre|code|kbd|samp|textarea)\b[^>]*>.*?</\1\s*>", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>|<![A-Za-z][^<>]*>")
_URL = re.compile(r"\b(?:[a-z][a-z0-9+.-]*://|www\.)[^\s<>()\[\]\"'`]+(?:\([^\s()]*\)[^\s<>()\[\]\"'`]*)*", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_MD_LINK_TARGET = re.compile(r"\]\([^)\s]*(?:\s+\"[^\"]*\")?\)|^\s{0,3}\[[^\]]+\]:\s*\S+.*$", re.M)
_RST_LITERAL = re.compile(r"``[^`\n]+``")
_INDENTED = re.compile(r"(?:(?<=\n\n)|\A)(?:(?:    |\t)[^\n]*(?:\n|\Z))+")
_IGNORE = re.compile(r"^.*\bcleaner:\s*ignore\b.*$", re.M)
_OFF = re.compile(r"\bcleaner:\s*off\b")
_ON = re.compile(r"\bcleaner:\s*on\b")

MARKUP_SUFFIXES = {".md", ".markdown", ".mdx", ".html", ".htm", ".xhtml", ".rst", ".txt", ""}


def protected_spans(text: str, suffix: str = "") -> list[tuple[int, int]]:
    """Sorted, merged (start, end) spans that no stage may change."""
    spans: list[tuple[int, int]] = []
    add = spans.extend
    if "cleaner:" in text:  # cheap pre-check: the directive scans are a tenth of the table path
        add(m.span() for m in _IGNORE.finditer(text))
        spans.extend(_off_blocks(text))
    if "`" in text or "~~~" in text:
        add(m.span() for m in _FENCE.finditer(text))
        add(m.span() for m in _INLINE_CODE.finditer(text))
        add(m.span() for m in _RST_LITERAL.finditer(text))
    if "<" in text:
        add(m.span() for m in _RAW_BLOCK.finditer(text))
        add(m.span() for m in _COMMENT.finditer(text))
        add(m.span() for m in _TAG.finditer(text))
    if "://" in text or "www." in text:
        add(m.span() for m in _URL.finditer(text))
    if "@" in text:
        add(m.span() for m in _EMAIL.finditer(text))
    if "](" in text or "]:" in text:
        add(m.span() for m in _MD_LINK_TARGET.finditer(text))
    if suffix.lower() in (".md", ".markdown", ".mdx"):
        add(m.span() for m in _INDENTED.finditer(text))
    return merge(spans)


def _off_blocks(text: str) -> list[tuple[int, int]]:
    out = []
    pos = 0
    while True:
        m = _OFF.search(text, pos)
        if not m:
            return out
        start = text.rfind("\n", 0, m.start()) + 1
        on = _ON.search(text, m.end())
        if not on:
            out.append((start, len(text)))
            return out
        end = text.find("\n", on.end())
        end = len(text) if end < 0 else end
        out.append((start, end))
        pos = end


def merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    spans = sorted(s for s in spans if s[1] > s[0])
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def overlaps_any(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    import bisect
    i = bisect.bisect_right(spans, (start, float("inf"))) - 1
    return any(0 <= j < len(spans) and spans[j][0] < end and start < spans[j][1] for j in (i, i + 1))
