"""The audit-trail record: one `Edit` per proposed change, and exact apply/revert.

Offsets are character offsets into the *input* text (Python `str` indices), so an
edit list is meaningful without the output and can be replayed or reverted exactly.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

KINDS = ("spin", "tortured", "mt", "encoding", "user")


@dataclass
class Edit:
    start: int
    end: int
    before: str
    after: str
    kind: str = "spin"
    source: str = ""
    score: float = 1.0
    applied: bool = True
    reason: str = ""
    id: str = ""
    # Optional audit detail: rewriter candidates [{"text", "score", ...}], LanguageTool verdict, ...
    candidates: list[dict] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            self.id = edit_id(self.start, self.end, self.before, self.after)
        if not 0 <= self.start <= self.end:
            raise ValueError(f"bad edit span {self.start}:{self.end}")
        if len(self.before) != self.end - self.start:
            raise ValueError(f"edit {self.id}: 'before' has {len(self.before)} chars, span has {self.end - self.start}")

    def to_dict(self) -> dict:
        d = asdict(self)
        order = ("id", "start", "end", "before", "after", "kind", "source", "score", "applied", "reason")
        out = {k: d[k] for k in order}
        out["score"] = round(float(self.score), 4)
        if self.candidates:
            out["candidates"] = self.candidates
        if self.meta:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Edit":
        return cls(
            start=int(d["start"]), end=int(d["end"]), before=d["before"], after=d["after"],
            kind=d.get("kind", "spin"), source=d.get("source", ""), score=float(d.get("score", 1.0)),
            applied=bool(d.get("applied", True)), reason=d.get("reason", ""), id=d.get("id", ""),
            candidates=d.get("candidates"), meta=d.get("meta") or {},
        )


def edit_id(start: int, end: int, before: str, after: str) -> str:
    """Stable id: the same proposal on the same input always gets the same id (review resumes on it)."""
    h = hashlib.sha1(f"{start}\0{end}\0{before}\0{after}".encode("utf-8")).hexdigest()[:8]
    return f"{start}-{h}"


class EditConflict(ValueError):
    """Edits overlap, or do not match the text they claim to change."""


def _checked(edits: Iterable[Edit]) -> list[Edit]:
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    for a, b in zip(ordered, ordered[1:]):
        if b.start < a.end or (b.start == a.end == b.end == a.start):
            raise EditConflict(f"edits {a.id} and {b.id} overlap")
    return ordered


def apply_edits(text: str, edits: Iterable[Edit], only_applied: bool = True) -> str:
    """Return `text` with the edits applied. Text outside the edits is copied unchanged."""
    chosen = [e for e in edits if e.applied or not only_applied]
    out: list[str] = []
    pos = 0
    for e in _checked(chosen):
        if text[e.start:e.end] != e.before:
            raise EditConflict(f"edit {e.id}: text at {e.start}:{e.end} is {text[e.start:e.end]!r}, expected {e.before!r}")
        out.append(text[pos:e.start])
        out.append(e.after)
        pos = e.end
    out.append(text[pos:])
    return "".join(out)


def output_spans(edits: Iterable[Edit], only_applied: bool = True) -> list[tuple[Edit, int, int]]:
    """Where each applied edit's `after` sits in the output text."""
    shift = 0
    spans = []
    for e in _checked(x for x in edits if x.applied or not only_applied):
        s = e.start + shift
        spans.append((e, s, s + len(e.after)))
        shift += len(e.after) - len(e.before)
    return spans


def revert_edits(output: str, edits: Iterable[Edit], only_applied: bool = True) -> str:
    """Inverse of `apply_edits`: rebuild the input from the output and the edit list."""
    out: list[str] = []
    pos = 0
    for e, s, t in output_spans(edits, only_applied):
        if output[s:t] != e.after:
            raise EditConflict(f"edit {e.id}: output at {s}:{t} is {output[s:t]!r}, expected {e.after!r}")
        out.append(output[pos:s])
        out.append(e.before)
        pos = t
    out.append(output[pos:])
    return "".join(out)


def line_col(text: str, offset: int, _cache: dict | None = None) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col
