"""Review of a batch run: documents from `cleaner clean --edit-log` records, and the cleaned corpus.

An edit-log record names its document by `source` (the input file) and `line` (1-based JSONL
line or Parquet row, see docs/architecture.md); the document text is read back from INPUT and
every edit's `before` is checked against it, so a log that does not belong to INPUT is refused
rather than misapplied.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from contextlib import contextmanager

from cleaner import corpus_io
from cleaner.edits import Edit, EditConflict, apply_edits
from cleaner.review import Doc, ReviewError, Session, append_jsonl, now, sha256


def _lines(path: str):
    with corpus_io.open_read(path) as f:
        yield from f


def read_log(edit_log: str) -> list[dict]:
    records = []
    try:
        f = open(edit_log, encoding="utf-8")
    except OSError as err:
        raise ReviewError(f"{edit_log}: {err.strerror}") from None
    with f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                r["edits"] = [Edit.from_dict(e) for e in r["edits"]]
            except (ValueError, KeyError, TypeError) as err:
                raise ReviewError(f"{edit_log}:{n}: not a batch edit-log record ({err})") from None
            records.append(r)
    return records


def _resolve(source: str | None, input_path: str | None) -> str:
    if input_path is None:
        if not source:
            raise ReviewError("edit-log record without `source`; give the INPUT corpus")
        return source
    if not os.path.isdir(input_path):
        return input_path
    for cand in (os.path.join(input_path, source or ""), source or "", os.path.join(input_path, os.path.basename(source or ""))):
        if cand and os.path.isfile(cand):
            return cand
    raise ReviewError(f"{source}: not found in {input_path}")


def _texts(path: str, wanted: set[int], field: str) -> dict[int, dict]:
    """{line (1-based) -> record} for the wanted lines of a JSONL file or rows of a Parquet file."""
    kind = corpus_io.kind_of(path)
    out: dict[int, dict] = {}
    if kind == "jsonl":
        for n, raw in enumerate(_lines(path), 1):
            if n in wanted:
                try:
                    out[n] = json.loads(raw)
                except ValueError as err:
                    raise ReviewError(f"{path}:{n}: invalid JSON ({err})") from None
    elif kind == "parquet":
        import pyarrow.parquet as pq

        col = pq.read_table(path).to_pylist()
        out = {n: col[n - 1] for n in wanted if 1 <= n <= len(col)}
    for n, rec in out.items():
        if not isinstance(rec, dict) or not isinstance(rec.get(field), str):
            raise ReviewError(f"{path}:{n}: no text field {field!r} (use --field)")
    return out


def _matches(text: str, edits: list[Edit]) -> bool:
    return all(0 <= e.start <= e.end <= len(text) and text[e.start:e.end] == e.before for e in edits)


def batch_docs(edit_log: str, input_path: str | None, field: str = "text"):
    """Docs and their edits for every record of the batch edit log; mismatches become problems."""
    from cleaner.textio import InputError, read_document

    if input_path is not None and not os.path.exists(input_path):
        raise ReviewError(f"{input_path}: no such file or folder")
    records = read_log(edit_log)
    by_file: dict[str, list[dict]] = {}
    problems: list[str] = []
    for r in records:
        try:
            by_file.setdefault(_resolve(r.get("source"), input_path), []).append(r)
        except ReviewError as err:
            problems.append(str(err))
    docs, edits = [], []
    for path, recs in by_file.items():
        kind = corpus_io.kind_of(path)
        if kind == "text":
            try:
                text = read_document(path).text
            except InputError as err:
                problems.append(str(err))
                continue
            rows = {1: {field: text}}
        else:
            # `line` is 1-based; a 0-based writer is detected by the edits matching the next line.
            wanted = {int(r.get("line") or 0) + d for r in recs for d in (0, 1)}
            rows = _texts(path, wanted, field)
        for r in recs:
            line = int(r.get("line") or 1)
            cands = [1] if kind == "text" else [line, line + 1]
            real = next((n for n in cands if n in rows and _matches(rows[n][field], r["edits"])), None)
            if real is None:
                problems.append(f"{r.get('doc_id')}: edits do not match line {line} of {path}; skipped")
                continue
            text = rows[real][field]
            ref = {"doc_id": r.get("doc_id"), "source": r.get("source"), "line": r.get("line")}
            docs.append(Doc(name=str(r.get("doc_id") or f"{path}:{real}"),
                            ident=f"{os.path.realpath(path)}:{real}:{r.get('doc_id')}", text=text,
                            sha256=sha256(text.encode("utf-8")), spin_score=float(r.get("spin_score") or 0.0),
                            ref={**ref, "file": path, "row": real}))
            edits.append(r["edits"])
    return docs, edits, problems


def _output_for(src: str, args, many: bool) -> str:
    if args.output and not many and not os.path.isdir(args.output):
        return args.output
    base = args.output or (args.paths[0].rstrip("/") + ".reviewed" if args.paths and os.path.isdir(args.paths[0]) else None)
    if base:
        root = args.paths[0] if args.paths and os.path.isdir(args.paths[0]) else os.path.dirname(src)
        return os.path.join(base, os.path.relpath(src, root))
    head, name = os.path.split(src)
    stem, dot, ext = name.partition(".")
    return os.path.join(head, f"{stem}.reviewed{dot}{ext}")


@contextmanager
def _atomic_out(path: str):
    """Stream into a temp file beside `path` (renamed on success), compressed by suffix like the input."""
    with corpus_io.atomic_open(path) as raw:
        if path.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
                yield f
        elif path.endswith(".zst"):
            import zstandard

            with zstandard.ZstdCompressor().stream_writer(raw, closefd=False) as f:
                yield f
        else:
            yield raw


def apply_batch(session: Session, args) -> tuple[int, list[str], str]:
    """Write a cleaned copy of every corpus file the log mentions; log accepted edits per document."""
    field, problems, changed = args.field, [], 0
    by_file: dict[str, dict[int, tuple[Doc, str, list[Edit]]]] = {}
    for doc in session.docs:
        edits = session.reviewed_edits(doc)
        entry = by_file.setdefault(doc.ref["file"], {})
        if any(e.applied for e in edits):
            try:
                entry[doc.ref["row"]] = (doc, apply_edits(doc.text, edits), edits)
            except EditConflict as err:
                problems.append(f"{doc.name}: {err}")
    outputs = []
    for src, new in by_file.items():
        dst = _output_for(src, args, len(by_file) > 1)
        if os.path.abspath(dst) == os.path.abspath(src):
            problems.append(f"{src}: --output must not be the input itself")
            continue
        kind = corpus_io.kind_of(src)
        if kind == "jsonl":
            with _atomic_out(dst) as f:
                for n, raw in enumerate(_lines(src), 1):
                    if n in new:
                        rec = json.loads(raw)
                        rec[field] = new[n][1]
                        raw = corpus_io.dumps(rec)
                    f.write(raw)
        elif kind == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pq.read_table(src)
            col = table.column(field).to_pylist()
            for n, (_, text, _) in new.items():
                col[n - 1] = text
            table = table.set_column(table.schema.get_field_index(field), field, pa.array(col, pa.string()))
            buf = io.BytesIO()
            pq.write_table(table, buf)
            with _atomic_out(dst) as f:
                f.write(buf.getvalue())
        else:
            from cleaner.textio import read_document

            d = read_document(src)
            with _atomic_out(dst) as f:
                f.write(d.encode(next(iter(new.values()))[1] if new else None))
        outputs.append(dst)
        records = [{"time": now(), "tool": "cleaner review", "user": session.user, **{k: doc.ref[k] for k in ("doc_id", "source", "line")},
                    "output": dst, "spin_score": doc.spin_score, "edits": [e.to_dict() for e in edits]}
                   for doc, _, edits in new.values()]
        append_jsonl(args.audit_log, records)
        changed += len(new)
    return changed, problems, ", ".join(outputs) or "(nothing written)"
