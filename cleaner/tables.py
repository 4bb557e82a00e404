"""Phrase tables: plain sorted TSV files in models/tables/ are the source of truth.

Format (see docs/architecture.md): `spun<TAB>canonical<TAB>prior[<TAB>options]`, `#` header lines.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

OPTION_KEYS = {"prev", "notprev", "next", "notnext", "case", "and", "not", "near", "report", "kind"}
KINDS = {"spin", "tortured", "mt", "user"}


def models_dir() -> Path:
    """The shipped models: $CLEANER_MODELS, models/ beside the package (a checkout or editable
    install), or the `cleaner_models` package that a wheel installs."""
    env = os.environ.get("CLEANER_MODELS")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parent.parent / "models"
    if (beside / "tables").is_dir():
        return beside
    try:
        import cleaner_models
        return Path(cleaner_models.__file__).resolve().parent
    except ImportError:
        return beside


def tables_dir() -> Path:
    return models_dir() / "tables"


def model_dir(name: str, root: str | Path | None = None) -> Path:
    """Folder of the shipped model `name` (detector, rewriter) under `root` or models_dir()."""
    return Path(root if root is not None else models_dir()) / name


_WORDS: dict[str, frozenset[str]] = {}


@dataclass(frozen=True)
class Entry:
    spun: str
    canonical: str
    prior: float
    options: tuple[tuple[str, str], ...] = ()
    table: str = ""
    kind: str = "spin"
    line: int = 0

    def opt(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.options:
            if k == key:
                return v
        return default

    def words(self, key: str) -> frozenset[str]:
        v = self.opt(key)
        if not v:
            return frozenset()
        got = _WORDS.get(v)
        if got is None:  # guards are checked at every hit: parse each option value once
            got = _WORDS[v] = frozenset(w.strip().casefold() for w in v.split("|") if w.strip())
        return got

    @property
    def source(self) -> str:
        return f"{'user' if self.table == 'user' else 'table:' + self.table}:{self.spun}"

    @property
    def report_only(self) -> bool:
        return self.opt("report") is not None or self.opt("near") is not None


@dataclass
class Table:
    name: str
    kind: str
    entries: list[Entry] = field(default_factory=list)
    path: str = ""


def _parse_options(raw: str) -> tuple[tuple[str, str], ...]:
    opts = []
    for part in raw.split(";"):
        part = part.strip()
        if not part:
            continue
        k, _, v = part.partition("=")
        opts.append((k.strip(), v.strip()))
    return tuple(opts)


def parse_table(text: str, name: str = "", path: str = "") -> tuple[Table, list[str]]:
    """Parse a table; return it with a list of problems (empty when the file is valid)."""
    problems: list[str] = []
    header: dict[str, str] = {}
    entries: list[Entry] = []
    data_lines: list[tuple[int, str]] = []
    where = path or name or "<table>"
    for n, line in enumerate(text.split("\n"), 1):
        if line.endswith("\r"):
            problems.append(f"{where}:{n}: CRLF line ending")
            line = line[:-1]
        if not line.strip():
            if line:
                problems.append(f"{where}:{n}: whitespace-only line")
            continue
        if line.startswith("#"):
            k, sep, v = line[1:].partition(":")
            if sep and not data_lines:
                header[k.strip()] = v.strip()
            continue
        data_lines.append((n, line))
    table_name = header.get("table", name)
    kind = header.get("kind", "spin")
    if kind not in KINDS:
        problems.append(f"{where}: unknown kind {kind!r}")
    for n, line in data_lines:
        cols = line.split("\t")
        if len(cols) not in (3, 4):
            problems.append(f"{where}:{n}: expected 3 or 4 tab-separated columns, got {len(cols)}")
            continue
        spun, canonical, prior_s = cols[0], cols[1], cols[2]
        for label, val in (("spun", spun), ("canonical", canonical)):
            if not val or val != val.strip() or "  " in val:
                problems.append(f"{where}:{n}: {label} column is empty or has stray spaces: {val!r}")
        try:
            prior = float(prior_s)
            if not 0.0 < prior <= 1.0:
                raise ValueError
        except ValueError:
            problems.append(f"{where}:{n}: prior must be a number in (0, 1], got {prior_s!r}")
            continue
        options = _parse_options(cols[3]) if len(cols) == 4 else ()
        for k, v in options:
            if k not in OPTION_KEYS:
                problems.append(f"{where}:{n}: unknown option {k!r}")
            elif k in ("report",) and v:
                problems.append(f"{where}:{n}: option {k!r} takes no value")
            elif k == "near" and not v.isdigit():
                problems.append(f"{where}:{n}: near= needs a whole number")
            elif k == "case" and v != "exact":
                problems.append(f"{where}:{n}: case= only takes 'exact'")
            elif k == "kind" and v not in KINDS:
                problems.append(f"{where}:{n}: unknown kind {v!r}")
            elif k not in ("report",) and not v:
                problems.append(f"{where}:{n}: option {k!r} needs a value")
        if spun.casefold() == canonical.casefold() and not dict(options).get("case"):
            problems.append(f"{where}:{n}: spun and canonical are the same")
        entries.append(Entry(spun, canonical, prior, options, table_name, dict(options).get("kind", kind), n))
    # Sorted, no duplicates.
    keys = [line.casefold() for _, line in data_lines]
    for (n, _), a, b in zip(data_lines[1:], keys, keys[1:]):
        if b < a:
            problems.append(f"{where}:{n}: not sorted (lines must be in casefold order)")
    seen: dict[tuple, int] = {}
    for e in entries:
        key = (e.spun.casefold() if e.opt("case") is None else e.spun, e.options)
        if key in seen:
            problems.append(f"{where}:{e.line}: duplicate of line {seen[key]} ({e.spun!r})")
        else:
            seen[key] = e.line
    problems.extend(_chain_problems(entries, where))
    return Table(table_name, kind, entries, path), problems


def _chain_problems(entries: list[Entry], where: str) -> list[str]:
    """A canonical phrase must not itself be a spun phrase (a chain); chains that loop are cycles."""
    spun_map: dict[str, set[str]] = {}
    for e in entries:
        if e.opt("case") is None:  # case-guarded entries (Home->House) only fire on that exact form
            spun_map.setdefault(e.spun.casefold(), set()).add(e.canonical.casefold())
    problems = []
    for e in entries:
        c = e.canonical.casefold()
        if c in spun_map:
            # Walk the chain to tell a cycle from a plain chain.
            seen, frontier, cyc = {e.spun.casefold()}, {c}, False
            while frontier and not cyc:
                nxt = set()
                for x in frontier:
                    if x in seen:
                        cyc = True
                        break
                    seen.add(x)
                    nxt |= spun_map.get(x, set())
                frontier = nxt
            what = "cycle" if cyc else "chain"
            problems.append(f"{where}:{e.line}: {what}: replacement {e.canonical!r} is itself a listed spun phrase")
    return problems


def load_table(path: str | os.PathLike) -> Table:
    """Load a table, raising ValueError listing every problem if it is invalid."""
    p = Path(path)
    table, problems = parse_table(p.read_text(encoding="utf-8"), p.stem, str(p))
    if problems:
        raise ValueError("invalid phrase table:\n  " + "\n  ".join(problems[:20]))
    return table


def validate_table(path: str | os.PathLike) -> list[str]:
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        return [f"{p}: not UTF-8 (byte {err.start})"]
    return parse_table(text, p.stem, str(p))[1]


def shipped_tables() -> list[Path]:
    d = tables_dir()
    return sorted(d.glob("*.tsv")) if d.is_dir() else []


def resolve_table(name_or_path: str) -> Path:
    """A table by name (`news-spinner`) from models/tables, or a path to a user table."""
    p = Path(name_or_path)
    if p.suffix == ".tsv" and p.exists():
        return p
    cand = tables_dir() / f"{name_or_path}.tsv"
    if cand.exists():
        return cand
    raise FileNotFoundError(f"phrase table {name_or_path!r} not found (looked in {tables_dir()})")


_WS = re.compile(r"\s+")


def user_entries(mapping: dict[str, str], prior: float = 1.0) -> list[Entry]:
    """Entries from config `[tool.cleaner.entries]` (trusted: applied whenever matched)."""
    return [Entry(_WS.sub(" ", k.strip()), v.strip(), prior, (), "user", "user", 0) for k, v in sorted(mapping.items())]
