"""Command line: `cleaner check | fix | revert | clean | review | tables`."""

from __future__ import annotations

import argparse
import difflib
import getpass
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Iterator

from . import __version__
from .config import Config, ConfigError, load_config
from .edits import EditConflict, Edit, line_col, revert_edits
from .textio import BinaryFile, InputError, atomic_write_bytes, read_document

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _err(msg: str) -> None:
    print(f"cleaner: {msg}", file=sys.stderr)


# -- shared options ---------------------------------------------------------------------------
def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders; '-' reads standard input")
    p.add_argument("--config", help="config file (default: nearest .cleaner.toml or pyproject.toml upward)")
    p.add_argument("--fast", action="store_true", help="phrase tables and rules only (no neural stages, no torch)")
    p.add_argument("--stages", help="comma-separated stages to run (tables,mt,detector,rewriter)")
    p.add_argument("--tables", help="comma-separated table names or .tsv paths (default from config)")
    p.add_argument("--threshold", type=float, help="apply edits scored at least this (default 0.8)")
    p.add_argument("--languagetool", metavar="URL", help="LanguageTool server for a second opinion on rewrites")


def _config(args) -> Config:
    cfg = load_config(args.config) if args.config else load_config(start=Path.cwd())
    if args.tables:
        cfg.tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    if args.threshold is not None:
        cfg.apply_threshold = args.threshold
    if args.fast:
        cfg.stages = ("tables", "mt")
    elif args.stages:
        cfg.stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    if getattr(args, "languagetool", None):
        cfg.languagetool = args.languagetool
    return cfg.validate()


def _iter_inputs(paths: list[str], cfg: Config) -> Iterator[str]:
    """Expand folders (keeping `include` globs), drop `exclude` globs, also for explicit files."""
    root = Path(cfg.source).parent if cfg.source else Path.cwd()
    for p in paths or ["-"]:
        if p == "-":
            yield p
            continue
        path = Path(p)
        if path.is_dir():
            for dirpath, dirnames, files in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                                     and not cfg.excluded(Path(dirpath, d), root))
                for f in sorted(files):
                    fp = Path(dirpath, f)
                    if cfg.included(fp) and not cfg.excluded(fp, root):
                        yield str(fp)
        elif not cfg.excluded(path, root):
            yield p


def _clean_all(args, cfg: Config):
    """Yield (path, document, result) per input; errors are reported and counted."""
    from .pipeline import Cleaner
    cleaner = Cleaner(cfg)
    args._errors = 0
    shown = set()
    for path in _iter_inputs(args.paths, cfg):
        try:
            doc = read_document(path, cfg.max_file_size)
        except BinaryFile as err:
            _err(str(err))
            continue
        except InputError as err:
            _err(str(err))
            args._errors += 1
            continue
        result = cleaner.clean(doc.text, path)
        for n in result.notices:
            if n not in shown:
                shown.add(n)
                _err(n)
        yield path, doc, result


# -- check ------------------------------------------------------------------------------------
def cmd_check(args) -> int:
    cfg = _config(args)
    findings = 0
    for path, doc, result in _clean_all(args, cfg):
        for e in result.edits:
            if not (e.applied or args.suggestions):
                continue
            line, col = line_col(doc.text, e.start)
            suffix = "" if e.applied else " [suggestion, not applied]"
            print(f"{path}:{line}:{col}: {e.kind} {e.before!r} -> {e.after!r} ({e.score:.2f}){suffix}")
            if e.applied or args.strict:
                findings += 1
    if args._errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if findings else EXIT_OK


# -- fix --------------------------------------------------------------------------------------
def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _append_log(log: str, record: dict) -> None:
    # One write() of one line: appends from concurrent runs do not interleave on POSIX.
    with open(log, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


def audit_record(path: str, before: bytes, after: bytes, spin: float, edits: list[Edit], tool: str,
                 user: str | None = None) -> dict:
    return {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "path": os.path.abspath(path) if path != "-" else "-", "tool": tool,
            "user": user or _user(), "sha256_before": _sha(before), "sha256_after": _sha(after),
            "spin_score": spin, "edits": [e.to_dict() for e in edits]}


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def cmd_fix(args) -> int:
    cfg = _config(args)
    fmt = args.format or ("text" if args.paths in ([], ["-"]) else "diff")
    changed = 0
    for path, doc, result in _clean_all(args, cfg):
        if result.changed:
            changed += 1
        if fmt == "json":
            print(json.dumps(result.to_dict(path), ensure_ascii=False))
        elif fmt == "text" and not (args.write and path != "-"):
            sys.stdout.write(result.text)
        elif fmt == "diff" and result.changed:
            sys.stdout.writelines(difflib.unified_diff(
                doc.text.splitlines(keepends=True), result.text.splitlines(keepends=True),
                f"a/{path}", f"b/{path}"))
        new = doc.encode(result.text)
        if args.write and path != "-" and result.changed:
            atomic_write_bytes(path, new)
            _err(f"fixed {path} ({len(result.applied)} edits)")
        if args.log and result.edits:
            # The log records what reached the output: files only change with --write.
            written = path == "-" or args.write
            _append_log(args.log, audit_record(path, doc.encode(), new if written else doc.encode(),
                                               result.spin_score, result.edits, "cleaner fix"))
    if args._errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if changed else EXIT_OK


# -- revert -----------------------------------------------------------------------------------
def cmd_revert(args) -> int:
    try:
        with open(args.log, encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
    except (OSError, json.JSONDecodeError) as err:
        _err(f"{args.log}: {err}")
        return EXIT_ERROR
    status = EXIT_OK
    for path in args.paths:
        target = os.path.abspath(path)
        mine = [r for r in records if r.get("path") == target]
        if not mine:
            _err(f"{path}: no entries in {args.log}")
            status = EXIT_ERROR
            continue
        try:
            doc = read_document(path, 0)
        except InputError as err:
            _err(str(err))
            status = EXIT_ERROR
            continue
        data, steps = doc.encode(), 0
        for rec in reversed(mine):
            if rec["sha256_after"] == rec["sha256_before"]:
                continue
            if _sha(data) != rec["sha256_after"]:
                if steps == 0:
                    _err(f"{path}: file changed since the logged fix ({rec['time']}); not reverting")
                    status = EXIT_ERROR
                break
            edits = [Edit.from_dict(d) for d in rec["edits"]]
            try:
                text = revert_edits(data[len(doc.bom):].decode(doc.encoding), edits)
            except EditConflict as err:
                _err(f"{path}: {err}")
                status = EXIT_ERROR
                break
            data = doc.bom + text.encode(doc.encoding)
            if _sha(data) != rec["sha256_before"]:
                _err(f"{path}: reverting the {rec['time']} entry did not give the logged input; stopped")
                status = EXIT_ERROR
                break
            steps += 1
            if not args.all:
                break
        if steps:
            atomic_write_bytes(path, data)
            _err(f"reverted {path} ({steps} logged fix{'es' if steps > 1 else ''})")
    return status


# -- tables -----------------------------------------------------------------------------------
def cmd_tables(args) -> int:
    from .tables import load_table, shipped_tables, validate_table
    paths = [Path(p) for p in args.paths] or shipped_tables()
    status = EXIT_OK
    for p in paths:
        problems = validate_table(p)
        if problems:
            status = EXIT_FINDINGS
            print("\n".join(problems))
        else:
            t = load_table(p)
            print(f"{p}: {len(t.entries)} entries, kind {t.kind}, ok")
    if not args.paths:
        from .tables import tables_dir
        from .variants import COMMON_FILE, VETO_FILE, load_veto, validate_list
        for name, words in ((VETO_FILE, 2), (COMMON_FILE, 1)):
            p = tables_dir() / name
            if not p.is_file():
                status = EXIT_FINDINGS
                print(f"{p}: missing: the variant rules are off (scripts/eval_variants.py --veto writes it)")
                continue
            problems = validate_list(p, words)
            if problems:
                status = EXIT_FINDINGS
                print("\n".join(problems[:20]))
            else:
                n = len(load_veto(tables_dir(), name))
                print(f"{p}: {n} {'pairs' if words == 2 else 'words'} for the variant rules, ok")
    return status


# -- entry point ------------------------------------------------------------------------------
def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser. `command` names the sub-command about to run: the optional modules
    (batch, review) are imported only for their own command or for --help, to keep start-up light."""
    parser = argparse.ArgumentParser(prog="cleaner", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"cleaner {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("check", help="report spun phrases: path:line:col: kind 'before' -> 'after' (score)")
    _add_common(p)
    p.add_argument("--suggestions", action="store_true", help="also list low-confidence suggestions")
    p.add_argument("--strict", action="store_true", help="exit 1 on suggestions too")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("fix", help="restore spun phrases: cleaned text (stdin), a diff, or --write")
    _add_common(p)
    p.add_argument("--write", "-w", action="store_true", help="rewrite files in place (atomically)")
    p.add_argument("--format", choices=("text", "json", "diff"), help="output format")
    p.add_argument("--log", metavar="FILE", help="append the audit trail (JSONL) for `cleaner revert`")
    p.set_defaults(func=cmd_fix)

    p = sub.add_parser("revert", help="undo logged fixes byte for byte")
    p.add_argument("paths", nargs="+", metavar="FILE")
    p.add_argument("--log", required=True, metavar="FILE", help="audit log written by fix --log or review --apply")
    p.add_argument("--all", action="store_true", help="undo every logged fix of the file, not only the last")
    p.set_defaults(func=cmd_revert)

    p = sub.add_parser("tables", help="validate phrase tables (default: the shipped ones)")
    p.add_argument("paths", nargs="*", metavar="TABLE")
    p.set_defaults(func=cmd_tables)

    for name, module, help_ in (("clean", "batch", "batch-clean corpora (JSONL, Parquet, folders)"),
                                ("review", "review", "review proposed edits interactively")):
        p = sub.add_parser(name, help=help_, add_help=command in (name, None))
        if command not in (name, None):
            continue
        try:
            mod = __import__(f"cleaner.{module}", fromlist=["add_arguments"])
            mod.add_arguments(p)
            p.set_defaults(func=mod.run)
        except ImportError as err:  # optional extras not installed
            p.set_defaults(func=lambda args, err=err, n=name: _missing(n, err))
    return parser


def _missing(name: str, err: Exception) -> int:
    _err(f"`cleaner {name}` is unavailable: {err}")
    return EXIT_ERROR


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in ("check", "fix", "revert", "tables", "clean", "review") else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        return args.func(args)
    except (ConfigError, FileNotFoundError) as err:  # bad config, missing --tables file
        _err(str(err))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
