"""LanguageTool second opinion: refuse a rewrite that introduces a new grammar error.

The checker talks to a LanguageTool server (`--languagetool URL`, `languagetool` in the config, or
env LANGUAGETOOL_URL) through language_tool_python, or to a local LanguageTool that
language_tool_python has already installed (never downloaded from here). When nothing is reachable,
`from_config` returns None and `why_not` holds the one-line reason; the feature is then off.

    checker = LanguageToolChecker.from_config(url)          # None when unreachable
    edits = checker.review(text, edits)                     # vetoes rewrites that add errors

A transport is any callable `text -> /v2/check response` (a JSON dict, or a list of
language_tool_python Match objects); tests drive the response handling with recorded responses.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .edits import Edit

why_not: str = ""  # one-line reason when from_config() returns None
MARGIN = 24  # chars around the changed region in which a new error counts as caused by the rewrite
# Sources whose edits get a second opinion: model rewrites only (tables and rules are exact).
CHECKED_SOURCES = ("model:",)


def normalise_match(m: Any, text: str) -> dict:
    """One LanguageTool match (JSON dict of /v2/check, or a language_tool_python Match) as
    {"rule", "category", "message", "offset", "length", "text", "replacements"}."""
    if isinstance(m, dict):
        rule = m.get("rule") or {}
        off, n = _from_utf16(text, int(m.get("offset", 0)), int(m.get("length", 0)))
        out = {"rule": rule.get("id", ""), "category": (rule.get("category") or {}).get("id", ""),
               "message": m.get("message", ""),
               "replacements": [r.get("value", "") for r in (m.get("replacements") or [])][:3]}
    else:
        off = int(getattr(m, "offset", 0))
        n = int(getattr(m, "error_length", getattr(m, "errorLength", 0)))
        out = {"rule": getattr(m, "rule_id", getattr(m, "ruleId", "")),
               "category": getattr(m, "category", ""), "message": getattr(m, "message", ""),
               "replacements": list(getattr(m, "replacements", []) or [])[:3]}
    out.update(offset=off, length=n, text=text[off:off + n])
    return out


def _from_utf16(text: str, off: int, n: int) -> tuple[int, int]:
    """LanguageTool counts offsets in UTF-16 units (Java strings); Python counts code points."""
    if text.isascii():
        return off, n
    units, i = 0, 0
    while i < len(text) and units < off:
        units += 2 if ord(text[i]) > 0xFFFF else 1
        i += 1
    j, u = i, 0
    while j < len(text) and u < n:
        u += 2 if ord(text[j]) > 0xFFFF else 1
        j += 1
    return i, j - i


def changed_region(before: Sequence, after: Sequence) -> tuple[int, int]:
    """[start, end) in `after` that differs from `before` (common prefix and suffix removed); any
    sequences (strings, word lists)."""
    p = 0
    while p < min(len(before), len(after)) and before[p] == after[p]:
        p += 1
    s = 0
    while s < min(len(before), len(after)) - p and before[-1 - s] == after[-1 - s]:
        s += 1
    return p, len(after) - s


def new_errors_from(before: str, after: str, m_before: Iterable[dict], m_after: Iterable[dict],
                    margin: int = MARGIN) -> list[dict]:
    """Errors of `after` not already in `before` (same rule on the same words), near the change."""
    seen = Counter((m["rule"], m["text"].lower()) for m in m_before)
    a, b = changed_region(before, after)
    out = []
    for m in m_after:
        key = (m["rule"], m["text"].lower())
        if seen[key] > 0:
            seen[key] -= 1
            continue
        if m["offset"] < b + margin and m["offset"] + m["length"] > a - margin:
            out.append(m)
    return out


def _local_install() -> Path | None:
    """A LanguageTool that language_tool_python downloaded earlier, usable with java, or None."""
    if not shutil.which("java"):
        return None
    root = Path(os.environ.get("LTP_PATH", str(Path.home() / ".cache" / "language_tool_python")))
    if not root.is_dir():
        return None
    found = sorted(p for p in root.glob("LanguageTool-*") if (p / "languagetool-server.jar").is_file()
                   and re.fullmatch(r"LanguageTool-(\d+\.\d+|\d{8})", p.name))
    return found[-1] if found else None


class LanguageToolChecker:
    def __init__(self, transport: Callable[[str], Any], server: str = "", language: str = "en-US"):
        self.transport = transport
        self.server = server
        self.language = language
        self.cache: dict[str, list[dict]] = {}

    @classmethod
    def from_config(cls, url: str | None = None, language: str = "en-US") -> "LanguageToolChecker | None":
        """A checker for `url` (else $LANGUAGETOOL_URL, else a local install), or None (see why_not)."""
        global why_not
        url = url or os.environ.get("LANGUAGETOOL_URL") or None
        try:
            import language_tool_python as ltp
        except ImportError:
            why_not = "LanguageTool off: language_tool_python is not installed"
            return None
        try:
            if url:
                tool = ltp.LanguageTool(language, remote_server=url)  # fetches /v2/languages: a reachability check
                server = url
            else:
                local = _local_install()
                if local is None:
                    why_not = ("LanguageTool off: no server configured (--languagetool URL or LANGUAGETOOL_URL) "
                               "and no local LanguageTool installed")
                    return None
                # The installed version, so language_tool_python finds it and never downloads.
                ver = local.name[len("LanguageTool-"):]
                tool = ltp.LanguageTool(language, language_tool_download_version=ver)
                server = f"local {local}"
        except Exception as err:  # connection refused, bad URL, server error: the feature is off, not fatal
            why_not = (f"LanguageTool off: {url or 'local server'} not reachable "
                       f"({type(err).__name__}: {str(err)[:120]})")
            return None
        why_not = ""
        return cls(tool.check, server, language)

    def matches(self, text: str) -> list[dict]:
        if text not in self.cache:
            resp = self.transport(text)
            raw = resp.get("matches", []) if isinstance(resp, dict) else list(resp or [])
            self.cache[text] = [normalise_match(m, text) for m in raw]
        return self.cache[text]

    def new_errors(self, before: str, after: str) -> list[dict]:
        """Grammar errors that `after` (the rewritten sentence) has and `before` has not."""
        if before == after:
            return []
        return new_errors_from(before, after, self.matches(before), self.matches(after))

    def review(self, text: str, edits: list[Edit]) -> list[Edit]:
        """Check each applied model rewrite in its sentence; unapply it when it adds an error.
        The verdict goes into edit.meta["languagetool"]. Edits are changed in place and returned."""
        for e in edits:
            if not e.applied or not e.source.startswith(CHECKED_SOURCES) or e.after == e.before:
                continue
            a, b = sentence_bounds(text, e.start, e.end)
            before = text[a:b]
            after = text[a:e.start] + e.after + text[e.end:b]
            try:
                errs = self.new_errors(before, after)
            except Exception as err:  # a failing server must not lose the edit: record and keep it
                e.meta["languagetool"] = {"verdict": "error", "server": self.server, "error": str(err)[:200]}
                continue
            if errs:
                e.applied = False
                e.reason += f"; LanguageTool refused: new {errs[0]['rule']} ({errs[0]['message'][:80]})"
                e.meta["languagetool"] = {"verdict": "refused", "server": self.server, "new_errors": errs}
            else:
                e.meta["languagetool"] = {"verdict": "ok", "server": self.server}
        return edits


_SENT_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


def sentence_bounds(text: str, start: int, end: int, limit: int = 400) -> tuple[int, int]:
    """The sentence (at most `limit` chars either side) around [start, end)."""
    lo = max(0, start - limit)
    a = lo
    for m in _SENT_END.finditer(text, lo, start):
        a = m.end()
    m = _SENT_END.search(text, end, min(len(text), end + limit))
    b = m.start() if m else min(len(text), end + limit)
    return a, b
