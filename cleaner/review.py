"""Interactive review of proposed edits: session state, decision log, apply.

A session is a list of items, one per proposed edit (applied and report-only alike), over
documents: files (`cleaner review PATH...`) or the documents of a batch edit log
(`cleaner review --log edits.jsonl INPUT`, see review_batch). Every decision is appended to a
JSONL decision log the moment it is made, so quitting and re-running resumes. `--apply` writes
the accepted edits atomically and appends them to the audit log, so `cleaner revert --log` can
undo them. The front ends (review_tui, review_plain) only call `Session` methods; this module
imports no UI code at module level.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone

from cleaner.edits import Edit, EditConflict, apply_edits, edit_id

DECISIONS = ("accept", "reject", "edit")
AMBIGUOUS_BAND = (0.5, 0.9)  # edits scored inside this band are "ambiguous" even when auto-applied
DEFAULT_DECISIONS = "cleaner-review.jsonl"
DEFAULT_AUDIT_LOG = "cleaner-audit.jsonl"


class ReviewError(Exception):
    """A problem the user must fix (bad log line, changed file, conflicting edits); message says what."""


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def append_jsonl(path: str, records: list[dict]) -> None:
    """Append and fsync, so a decision survives a crash or a killed terminal right after it is made."""
    if not records:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))  # one write: no torn groups
        f.flush()
        os.fsync(f.fileno())


@dataclass
class Doc:
    """One reviewed text. `ident` + `sha256` name exactly the text the edit offsets refer to."""
    name: str                 # for display: the path, or the batch doc_id
    ident: str                # stable identity: real path of the file, or "source:line:doc_id"
    text: str
    sha256: str               # of the file bytes (files) or of the UTF-8 text (batch documents)
    spin_score: float = 0.0
    path: str | None = None   # file mode: the file --apply rewrites
    document: object = None   # file mode: cleaner.textio.Document (encoding, BOM)
    ref: dict | None = None   # batch mode: {"doc_id", "source", "line"}

    def where(self) -> dict:
        return {"path": self.path} if self.path is not None else {"doc": self.ref}


@dataclass
class Item:
    doc: Doc
    edit: Edit
    decision: str = "pending"   # pending | accept | reject | edit
    final: str | None = None    # the replacement the reviewer settled on (accept/edit)
    user: str = ""
    time: str = ""
    candidate: int | None = None  # index into edit.candidates when one was picked

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.doc.ident, self.doc.sha256, self.edit.id)

    @property
    def accepted(self) -> bool:
        return self.decision in ("accept", "edit")

    @property
    def proposes(self) -> bool:
        """False for flags without a replacement (detector-only spans, PPS proximity hits)."""
        return self.edit.after != self.edit.before

    def phrase_key(self) -> tuple:
        return (self.edit.before.casefold(), self.edit.after.casefold())

    def rule_key(self) -> str:
        """The table, rule or model that proposed the edit: `source` without the entry."""
        src = self.edit.source
        if src.startswith("table:"):
            return ":".join(src.split(":", 2)[:2])
        if src.startswith("user:"):
            return "user"
        return src


def is_ambiguous(edit: Edit, band: tuple[float, float] = AMBIGUOUS_BAND) -> bool:
    return (not edit.applied) or band[0] <= edit.score < band[1]


@dataclass
class Filter:
    kinds: frozenset[str] | None = None
    min_score: float = 0.0
    max_score: float = 1.0
    ambiguous: bool = False
    band: tuple[float, float] = AMBIGUOUS_BAND

    def match(self, item: Item) -> bool:
        e = item.edit
        if self.kinds and e.kind not in self.kinds:
            return False
        if not self.min_score <= e.score <= self.max_score:
            return False
        return not self.ambiguous or is_ambiguous(e, self.band)

    def describe(self) -> str:
        parts = [f"kind={','.join(sorted(self.kinds)) if self.kinds else 'all'}"]
        if self.min_score > 0 or self.max_score < 1:
            parts.append(f"score {self.min_score:.2f}-{self.max_score:.2f}")
        if self.ambiguous:
            parts.append("ambiguous only")
        return " ".join(parts)


class Session:
    """Items in document order, their decisions, an undo stack; every change is logged at once."""

    def __init__(self, docs: list[Doc], edits: list[list[Edit]], log_path: str, user: str,
                 flt: Filter | None = None):
        self.docs = docs
        self.items = [Item(d, e) for d, es in zip(docs, edits) for e in sorted(es, key=lambda e: (e.start, e.end))]
        self.log_path = log_path
        self.user = user
        self.filter = flt or Filter()
        self._undo: list[tuple[Item, list[tuple[Item, tuple]]]] = []  # (item acted on, previous states)
        self.warnings: list[str] = []
        self.notices: list[str] = []  # informational (stage off, table missing): printed, not an error
        self._by_doc: dict[int, list[Item]] = {}
        for it in self.items:
            self._by_doc.setdefault(id(it.doc), []).append(it)
        self._load()

    # -- decision log ---------------------------------------------------------------------
    def _load(self) -> None:
        if not os.path.exists(self.log_path):
            return
        latest: dict[tuple, dict] = {}
        with open(self.log_path, encoding="utf-8") as f:
            lines = f.readlines()
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                if r.get("event") == "apply":
                    continue
                latest[(r["doc_ident"], r["sha256"], r["id"])] = r
            except (ValueError, KeyError, TypeError) as err:
                if n == len(lines) and not line.endswith("\n"):
                    # A torn last line from a crash mid-write: that decision was never confirmed.
                    self.warnings.append(f"{self.log_path}:{n}: incomplete last line ignored")
                    continue
                raise ReviewError(f"{self.log_path}:{n}: not a decision record ({err})") from None
        for it in self.items:
            r = latest.get(it.key)
            if r and r.get("decision") in DECISIONS:
                it.decision, it.final = r["decision"], r.get("final")
                it.user, it.time, it.candidate = r.get("user", ""), r.get("time", ""), r.get("candidate")

    def _record(self, it: Item) -> dict:
        r = {"time": it.time, "user": it.user, "doc_ident": it.doc.ident, **it.doc.where(),
             "sha256": it.doc.sha256, "id": it.edit.id, "decision": it.decision, "final": it.final}
        if it.candidate is not None:
            r["candidate"] = it.candidate
        e = it.edit.to_dict()
        e.pop("candidates", None)
        r["edit"] = e
        return r

    @staticmethod
    def _state(it: Item) -> tuple:
        return (it.decision, it.final, it.user, it.time, it.candidate)

    def _set(self, focus: Item, changes: list[tuple[Item, str, str | None, int | None]]) -> None:
        group, records, t = [], [], now()
        for it, decision, final, cand in changes:
            group.append((it, self._state(it)))
            it.decision, it.final, it.candidate = decision, final, cand
            it.user, it.time = (self.user, t) if decision != "pending" else ("", "")
            records.append(self._record(it))
        self._save(records, group)
        self._undo.append((focus, group))

    def _save(self, records: list[dict], restore: list[tuple[Item, tuple]]) -> None:
        """Log the records; if that fails, put the items back so nothing unsaved looks decided."""
        try:
            append_jsonl(self.log_path, records)
        except OSError as err:
            for it, (decision, final, user, t, cand) in restore:
                it.decision, it.final, it.user, it.time, it.candidate = decision, final, user, t, cand
            raise ReviewError(f"cannot save the decision to {self.log_path}: {err.strerror or err}") from None

    # -- decisions --------------------------------------------------------------------------
    def conflict(self, it: Item) -> Item | None:
        """An accepted edit of the same document whose span overlaps this one."""
        for o in self._by_doc[id(it.doc)]:
            if o is not it and o.accepted:
                a, b = it.edit, o.edit
                if a.start < b.end and b.start < a.end or (a.start == a.end == b.start == b.end):
                    return o
        return None

    def decide(self, it: Item, decision: str, final: str | None = None, candidate: int | None = None) -> None:
        """accept (final defaults to the proposal), edit (final is the reviewer's text) or reject."""
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r}")
        if decision == "reject":
            final, candidate = None, None
        else:
            if final is None:
                final = it.edit.after
            if decision == "accept" and final == it.edit.before:
                raise ReviewError("no replacement proposed here: edit (e) to type one, or reject (n)")
            other = self.conflict(it)
            if other is not None:
                raise ReviewError(f"overlaps accepted edit {other.edit.id} "
                                  f"({other.edit.before!r} -> {other.final!r}); reject that one first")
        self._set(it, [(it, decision, final, candidate)])

    def pick(self, it: Item, n: int) -> None:
        """Accept the n-th (0-based) rewriter candidate instead of the proposal (the original
        wording, which the rewriter also lists, counts as a rejection)."""
        cands = it.edit.candidates or []
        if not 0 <= n < len(cands):
            raise ReviewError(f"no candidate {n + 1} (this edit has {len(cands)})")
        text = str(cands[n]["text"])
        if text == it.edit.before:  # the rewriter lists the original wording too: picking it keeps it
            self.decide(it, "reject")
        else:
            self.decide(it, "accept", text, candidate=n)

    def decide_all(self, it: Item, scope: str, decision: str) -> int:
        """Accept or reject every pending, visible edit of this phrase (scope='phrase') or rule ('rule')."""
        if decision not in ("accept", "reject"):
            raise ValueError(decision)
        key = Item.phrase_key if scope == "phrase" else Item.rule_key
        target = key(it)
        chosen: list[Item] = []
        for o in self.items:
            if (o is it or o.decision == "pending") and self.filter.match(o) and key(o) == target:
                if decision == "accept":
                    if not o.proposes:
                        continue  # a flag without a replacement needs a typed one
                    clash = self.conflict(o) or next((c for c in chosen if c.doc is o.doc and
                                                      c.edit.start < o.edit.end and o.edit.start < c.edit.end), None)
                    if clash is not None:
                        continue  # leave overlapping proposals pending for a human look
                chosen.append(o)
        if chosen:
            self._set(it, [(o, decision, o.edit.after if decision == "accept" else None, None) for o in chosen])
        return len(chosen)

    def undo(self) -> Item | None:
        """Restore the decisions changed by the last action; return the item it was made on."""
        if not self._undo:
            return None
        focus, group = self._undo[-1]
        records, current = [], []
        for it, (decision, final, user, t, cand) in group:
            current.append((it, self._state(it)))
            it.decision, it.final, it.user, it.time, it.candidate = decision, final, user, t, cand
            r = self._record(it)
            r["undo"] = {"user": self.user, "time": now()}  # who took it back; user/time stay the decider's
            records.append(r)
        self._save(records, current)
        self._undo.pop()
        return focus

    # -- navigation ---------------------------------------------------------------------------
    def visible(self) -> list[int]:
        return [i for i, it in enumerate(self.items) if self.filter.match(it)]

    def first_pending(self, start: int = 0, wrap: bool = True) -> int | None:
        vis = self.visible()
        order = [i for i in vis if i >= start] + ([i for i in vis if i < start] if wrap else [])
        return next((i for i in order if self.items[i].decision == "pending"), None)

    def next_doc(self, index: int) -> int | None:
        """First visible item of the next document (skip file)."""
        doc = self.items[index].doc
        for i in self.visible():
            if i > index and self.items[i].doc is not doc:
                return i
        return None

    def counts(self) -> dict[str, int]:
        c = {"pending": 0, "accept": 0, "reject": 0, "edit": 0}
        for it in self.items:
            c[it.decision] += 1
        return c

    # -- apply ---------------------------------------------------------------------------------
    def reviewed_edits(self, doc: Doc) -> list[Edit]:
        """The decided edits of `doc` as public Edit records: accepted ones applied with the final
        text, rejected ones kept with applied=False so the audit log says who turned what down."""
        out = []
        for it in self._by_doc.get(id(doc), []):
            if it.decision == "pending":
                continue
            e = it.edit
            review = {"decision": it.decision, "user": it.user, "time": it.time}
            if it.decision != "reject" and it.final != e.after:
                review["proposed"] = e.after
            out.append(Edit(start=e.start, end=e.end, before=e.before,
                            after=it.final if it.accepted else e.after, kind=e.kind, source=e.source,
                            score=e.score, applied=it.accepted, reason=e.reason, id=e.id,
                            candidates=e.candidates, meta={**e.meta, "review": review}))
        return out

    def apply_files(self, audit_log: str, tool: str = "cleaner review") -> tuple[int, list[str]]:
        """Write accepted edits to their files; return (files changed, problems)."""
        from cleaner.textio import atomic_write_bytes

        changed, problems = 0, []
        for doc in self.docs:
            edits = self.reviewed_edits(doc)
            if doc.path is None or not any(e.applied for e in edits):
                continue
            try:
                with open(doc.path, "rb") as f:
                    on_disk = f.read()
                if sha256(on_disk) != doc.sha256:
                    raise ReviewError(f"{doc.path}: changed on disk since it was read; not written, re-run review")
                new_text = apply_edits(doc.text, edits)
                data = doc.document.encode(new_text)
                atomic_write_bytes(doc.path, data)
            except (OSError, ReviewError, EditConflict) as err:
                problems.append(str(err))
                continue
            after = sha256(data)
            # Same record as `cleaner fix --log` (absolute path), so `cleaner revert --log` undoes it.
            append_jsonl(audit_log, [{"time": now(), "path": os.path.abspath(doc.path), "tool": tool, "user": self.user,
                                      "sha256_before": doc.sha256, "sha256_after": after,
                                      "spin_score": doc.spin_score, "edits": [e.to_dict() for e in edits]}])
            self._carry(doc, after, edits)
            changed += 1
        return changed, problems

    def _carry(self, doc: Doc, new_sha: str, edits: list[Edit]) -> None:
        """Re-key this document's rejections to the rewritten text, so a later review of the same
        file does not ask again about proposals the reviewer already turned down."""
        applied = sorted((e for e in edits if e.applied), key=lambda e: e.start)
        records = [{"event": "apply", "time": now(), "user": self.user, "doc_ident": doc.ident, **doc.where(),
                    "sha256_before": doc.sha256, "sha256_after": new_sha}]
        for it in self._by_doc.get(id(doc), []):
            if it.decision != "reject":
                continue
            e = it.edit
            if any(a.start < e.end and e.start < a.end for a in applied):
                continue
            shift = sum(len(a.after) - len(a.before) for a in applied if a.end <= e.start)
            s = e.start + shift
            r = self._record(it)
            r.update(sha256=new_sha, id=edit_id(s, s + len(e.before), e.before, e.after), carried_from=e.id)
            r["edit"].update(start=s, end=s + len(e.before), id=r["id"])
            records.append(r)
        append_jsonl(self.log_path, records)


# -- building a session -------------------------------------------------------------------------

def make_cleaner(args: argparse.Namespace):
    """The Cleaner `cleaner fix` would build from the same options and config file."""
    from cleaner.cli import _config
    from cleaner.pipeline import Cleaner

    try:
        return Cleaner(_config(args))
    except (FileNotFoundError, ValueError) as err:  # a missing --tables file, a bad table or stage name
        raise ReviewError(str(err)) from None


def file_docs(args: argparse.Namespace, cleaner=None):
    """Read each file exactly and run the cleaner -> (docs, edits, problems, notices).
    Unreadable files become problems, never crashes; notices are the cleaner's warnings
    (a stage off, a shipped table missing) that explain why there may be few proposals."""
    from cleaner.cli import _config, _iter_inputs
    from cleaner.textio import BinaryFile, InputError, read_document

    if "-" in args.paths:
        raise ReviewError("standard input cannot be reviewed (nothing to write back); give files")
    cfg = _config(args)
    cleaner = cleaner or make_cleaner(args)
    docs, edits, problems, seen = [], [], [], set()
    for p in _iter_inputs(args.paths, cfg):
        if os.path.realpath(p) in seen:
            continue  # the same file named twice would be written twice
        seen.add(os.path.realpath(p))
        try:
            d = read_document(p, cfg.max_file_size)
        except BinaryFile:
            continue
        except InputError as err:
            problems.append(str(err))
            continue
        r = cleaner.clean(d.text, p)
        docs.append(Doc(name=p, ident=os.path.realpath(p), text=d.text, sha256=sha256(d.encode()),
                        spin_score=float(r.spin_score or 0.0), path=p, document=d))
        edits.append(list(r.edits))
    notices = list(dict.fromkeys(getattr(cleaner, "notices", [])))
    return docs, edits, problems, notices


# -- context for display ----------------------------------------------------------------------

_PARA = re.compile(r"\n[ \t]*\n")
_SENT_END = re.compile(r"[.!?…][\"'”’)\]]*\s+")


def paragraph_span(text: str, start: int, end: int, limit: int = 700) -> tuple[int, int]:
    """The blank-line-delimited paragraph around [start, end), clipped to `limit` chars each side."""
    s = max((m.end() for m in _PARA.finditer(text, 0, start)), default=0)
    m = _PARA.search(text, end)
    t = m.start() if m else len(text)
    while s < start and text[s].isspace():
        s += 1
    while t > end and text[t - 1].isspace():
        t -= 1
    return max(s, start - limit), min(t, end + limit)


def sentence_span(text: str, start: int, end: int) -> tuple[int, int]:
    ps, pe = paragraph_span(text, start, end, limit=300)
    s = max((m.end() for m in _SENT_END.finditer(text, ps, start)), default=ps)
    m = _SENT_END.search(text, end, pe)
    return s, (m.start() + 1 if m else pe)


def segments(it: Item, items: list[Item], span: tuple[int, int]) -> list[tuple[str, str]]:
    """Split text[span] into (style, text) runs: "del"/"ins" for the current edit, "done" for
    other accepted edits shown with their final text, "other" for other proposals, "" plain."""
    text = it.doc.text
    s, t = span
    out: list[tuple[str, str]] = []
    pos = s
    near = sorted((o for o in items if o.doc is it.doc and o.edit.start >= s and o.edit.end <= t),
                  key=lambda o: (o.edit.start, o.edit.end))
    for o in near:
        e = o.edit
        if e.start < pos:
            continue  # overlaps something already shown
        out.append(("", text[pos:e.start]))
        if o is it:
            out.append(("del", e.before))
            out.append(("ins", it.final if it.accepted else e.after))
        elif o.accepted:
            out.append(("done", o.final or ""))
        else:
            out.append(("other", e.before))
        pos = e.end
    out.append(("", text[pos:t]))
    return [(k, v) for k, v in out if v or k in ("del", "ins")]


def describe(it: Item, index: int, total: int) -> str:
    from cleaner.edits import line_col

    e = it.edit
    line, col = line_col(it.doc.text, e.start)
    mode = "auto" if e.applied else "report"
    return (f"[{index}/{total}] {it.doc.name}:{line}:{col}  {e.kind}  {e.source}  "
            f"score {e.score:.2f} ({mode})  {it.decision}{' by ' + it.user if it.user else ''}")


KEYS = [
    ("y / enter", "accept the proposal"),
    ("n", "reject"),
    ("1-9", "accept rewriter candidate N instead"),
    ("e", "edit the replacement by hand (enter to save, escape to cancel)"),
    ("a / r", "accept / reject all remaining edits of this phrase (same before -> after)"),
    ("A / R", "accept / reject all remaining edits of this rule (table, rule or model)"),
    ("j / down", "next edit"),
    ("k / up", "previous edit"),
    ("u", "undo the last decision (bulk decisions undo as one)"),
    ("s", "skip to the next file"),
    ("f", "filter: cycle kind (all, spin, tortured, mt, ...)"),
    ("m", "filter: only ambiguous edits (report-only or mid score) on/off"),
    ("+ / -", "filter: raise / lower the minimum score by 0.1"),
    ("q", "quit (decisions are already saved; re-run to resume)"),
    ("?", "this help"),
]


# -- CLI ----------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="files or folders to review; with --log, the corpus the batch run read")
    parser.add_argument("--config", help="config file (default: nearest .cleaner.toml or pyproject.toml upward)")
    parser.add_argument("--fast", action="store_true", help="phrase tables and rules only (no neural stages)")
    parser.add_argument("--stages", help="comma-separated stages to run (tables,mt,detector,rewriter)")
    parser.add_argument("--tables", help="comma-separated table names or .tsv paths (default from config)")
    parser.add_argument("--threshold", type=float, help="score at which the pipeline marks edits applied (default 0.8)")
    parser.add_argument("--log", metavar="EDITS.jsonl", dest="edit_log",
                        help="review the batch edit log of `cleaner clean --edit-log` instead of running the cleaner")
    parser.add_argument("--decisions", metavar="FILE",
                        help=f"decision log, appended as you go (default: {DEFAULT_DECISIONS}, "
                             "or EDITS.decisions.jsonl beside a batch edit log)")
    parser.add_argument("--apply", action="store_true",
                        help="write the accepted edits (files in place, or a cleaned corpus with --log) and exit")
    parser.add_argument("--audit-log", metavar="FILE", default=DEFAULT_AUDIT_LOG,
                        help=f"audit log --apply appends to, for `cleaner revert --log` (default: {DEFAULT_AUDIT_LOG})")
    parser.add_argument("--output", metavar="PATH",
                        help="with --log --apply: where the cleaned corpus goes (default: INPUT.reviewed.EXT)")
    parser.add_argument("--field", default="text", help="JSONL/Parquet text field with --log (default: text)")
    parser.add_argument("--plain", action="store_true",
                        help="one edit at a time on stdin/stdout (automatic when stdout is not a terminal)")
    parser.add_argument("--reviewer", help="name recorded with each decision (default: your login)")
    parser.add_argument("--kind", action="append", metavar="KIND",
                        help="only edits of these kinds (repeat or comma-separate: spin,tortured,mt,encoding,user)")
    parser.add_argument("--min-score", type=float, default=0.0, help="only edits scored at least this")
    parser.add_argument("--max-score", type=float, default=1.0, help="only edits scored at most this")
    parser.add_argument("--ambiguous", action="store_true",
                        help="only ambiguous edits: report-only, or scored inside --band")
    parser.add_argument("--band", default=f"{AMBIGUOUS_BAND[0]}:{AMBIGUOUS_BAND[1]}", metavar="LO:HI",
                        help="score band counted as ambiguous (default: %(default)s)")


def _filter(args: argparse.Namespace) -> Filter:
    kinds = None
    if args.kind:
        kinds = frozenset(k.strip() for ks in args.kind for k in ks.split(",") if k.strip())
    try:
        lo, hi = (float(x) for x in args.band.split(":"))
    except ValueError:
        raise ReviewError(f"--band {args.band!r}: expected LO:HI, e.g. 0.5:0.9") from None
    return Filter(kinds, args.min_score, args.max_score, args.ambiguous, (lo, hi))


def build_session(args: argparse.Namespace, cleaner=None) -> tuple[Session, list[str]]:
    user = args.reviewer or _login()
    if args.edit_log:
        from cleaner.review_batch import batch_docs

        if len(args.paths) > 1:
            raise ReviewError("with --log give at most one INPUT (the corpus file or folder the batch run read)")
        docs, edits, problems = batch_docs(args.edit_log, args.paths[0] if args.paths else None, args.field)
        notices = []
        log = args.decisions or re.sub(r"(\.jsonl)?$", ".decisions.jsonl", args.edit_log, count=1)
    else:
        if not args.paths:
            raise ReviewError("nothing to review: give files or folders, or --log EDITS.jsonl INPUT")
        docs, edits, problems, notices = file_docs(args, cleaner)
        log = args.decisions or DEFAULT_DECISIONS
    session = Session(docs, edits, log, user, _filter(args))
    session.notices = notices
    return session, problems + session.warnings


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def run(args: argparse.Namespace, cleaner=None, stdin=None, stdout=None) -> int:
    out = stdout or sys.stdout
    err = sys.stderr if stdout is None else stdout
    try:
        session, problems = build_session(args, cleaner)
    except ReviewError as e:
        print(f"cleaner review: {e}", file=err)
        return 2
    for p in session.notices + problems:
        print(f"cleaner review: {p}", file=err)
    if args.apply:
        return _apply(args, session, out, err, bool(problems))
    if not session.visible():
        print(f"nothing to review ({len(session.items)} edits, filter: {session.filter.describe()})", file=out)
        return 1 if problems else 0
    # Textual needs a terminal on both ends; anything piped gets the prompt mode.
    plain = args.plain or stdin is not None or not out.isatty() or not sys.stdin.isatty()
    if not plain:
        try:
            from cleaner.review_tui import ReviewApp
        except ImportError:
            print("cleaner review: textual is not installed (pip install 'cleaner[review]'); using --plain", file=err)
            plain = True
    if plain:
        from cleaner.review_plain import review_plain

        review_plain(session, stdin or sys.stdin, out)
    else:
        ReviewApp(session).run()
    c = session.counts()
    print(f"{c['accept']} accepted, {c['edit']} edited, {c['reject']} rejected, {c['pending']} pending; "
          f"decisions in {session.log_path}" + ("" if not c["pending"] else " (re-run to resume)")
          + ("; run again with --apply to write them" if c["accept"] + c["edit"] else ""), file=out)
    return 1 if problems else 0


def _apply(args, session: Session, out, err, had_problems: bool) -> int:
    if args.edit_log:
        from cleaner.review_batch import apply_batch

        n, problems, where = apply_batch(session, args)
        msg = f"{n} documents changed; cleaned corpus: {where}"
    else:
        n, problems = session.apply_files(args.audit_log)
        msg = f"{n} files changed; audit log: {args.audit_log}"
    for p in problems:
        print(f"cleaner review: {p}", file=err)
    pending = session.counts()["pending"]
    print(msg + (f"; {pending} edits still pending" if pending else ""), file=out)
    return 1 if problems or had_problems else 0
