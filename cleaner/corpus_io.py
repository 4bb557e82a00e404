"""Corpus readers and writers for `cleaner clean`: JSONL (plain, .gz, .zst), Parquet, text folders.

Readers yield `Rec(source, line, payload)` without parsing: `payload` is the raw bytes of a JSONL
line or a text file, or a dict (a Parquet row). Workers parse, so a bad record is found and
reported with its file and line where the work happens and never stops the reader.
`line` is the 1-based physical JSONL line (blank lines counted) or Parquet row; 1 for text files.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

JSONL_EXT = (".jsonl", ".ndjson", ".json")
FORMATS = ("jsonl", "jsonl.gz", "jsonl.zst", "parquet")


class Rec(NamedTuple):
    source: str
    line: int
    payload: bytes | dict


def _strip_comp(path: str) -> tuple[str, str]:
    p = path.lower()
    for comp in (".gz", ".zst"):
        if p.endswith(comp):
            return p[: -len(comp)], comp
    return p, ""


def kind_of(path: str) -> str:
    """'jsonl', 'parquet' or 'text' (anything else is read as one text document)."""
    p, _ = _strip_comp(path)
    if p.endswith(JSONL_EXT) or path == "-":
        return "jsonl"
    if p.endswith(".parquet"):
        return "parquet"
    return "text"


def format_of(path: str) -> str | None:
    """The output format a file name asks for, or None (then OUTPUT is a folder of shards)."""
    p, comp = _strip_comp(path)
    if p.endswith(JSONL_EXT):
        return "jsonl" + comp
    if p.endswith(".parquet") and not comp:
        return "parquet"
    return None


def expand_inputs(paths: Iterable[str], include, skip: Iterable[str] = ()) -> list[str]:
    """Files to read, in order: explicit files as given, folders walked in sorted order.

    In folders: corpus files (JSONL, Parquet) and text files matching `include(path)`; hidden
    entries and anything under `skip` (our own output) are left out.
    """
    skip_real = [os.path.realpath(s) for s in skip]

    def skipped(p: str) -> bool:
        r = os.path.realpath(p)
        return any(r == s or r.startswith(s + os.sep) for s in skip_real)

    out: list[str] = []
    for p in paths:
        if p != "-" and os.path.isdir(p):
            for dirpath, dirnames, files in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not skipped(os.path.join(dirpath, d)))
                for f in sorted(files):
                    fp = os.path.join(dirpath, f)
                    if f.startswith(".") or skipped(fp):
                        continue
                    if kind_of(fp) != "text" or include(fp):
                        out.append(fp)
        elif p == "-" or os.path.exists(p):
            out.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return out


def open_read(path: str):
    """A binary stream of the decompressed file (by suffix)."""
    if path == "-":
        import sys
        return sys.stdin.buffer
    raw = open(path, "rb")
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if path.endswith(".zst"):
        import zstandard
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))
    return raw


class InputStream:
    """All records of all input files in order; `position()` is the compressed bytes consumed (for ETA)."""

    def __init__(self, files: list[str], parquet_batch: int = 1024):
        self.files = files
        self.parquet_batch = parquet_batch
        self.sizes = [os.path.getsize(f) if f != "-" else 0 for f in files]
        self.total_bytes = sum(self.sizes)
        self._done = 0
        self._raw = None

    def position(self) -> int:
        try:
            return self._done + (self._raw.tell() if self._raw is not None and not self._raw.closed else 0)
        except (OSError, ValueError):
            return self._done

    def __iter__(self) -> Iterator[Rec]:
        for path, size in zip(self.files, self.sizes):
            kind = kind_of(path)
            if kind == "jsonl":
                yield from self._jsonl(path)
            elif kind == "parquet":
                yield from self._parquet(path)
            else:
                with open(path, "rb") as f:
                    yield Rec(path, 1, f.read())
            self._done += size
            self._raw = None

    def _jsonl(self, path: str) -> Iterator[Rec]:
        f = open_read(path)
        self._raw = getattr(f, "fileobj", None) or getattr(f, "raw", None) or f
        if path.endswith(".zst"):
            self._raw = None  # zstd's reader hides its source; progress jumps per file
        with f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    yield Rec(path, n, line)

    def _parquet(self, path: str) -> Iterator[Rec]:
        import pyarrow.parquet as pq
        pf = pq.ParquetFile(path)
        n = 0
        for batch in pf.iter_batches(batch_size=self.parquet_batch):
            for row in batch.to_pylist():
                n += 1
                yield Rec(path, n, row)


# -- writing ----------------------------------------------------------------------------------
def _json_default(o):
    if isinstance(o, bytes):
        return o.decode("utf-8", "surrogateescape")
    return str(o)


def dumps(obj) -> bytes:
    """One JSONL line. Strings with lone surrogates (escaped invalid bytes) are written as \\udcXX escapes."""
    s = json.dumps(obj, ensure_ascii=False, default=_json_default) + "\n"
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(obj, ensure_ascii=True, default=_json_default) + "\n").encode("ascii")


def encode_rows(rows: list[bytes | dict], fmt: str) -> bytes:
    """One shard in `fmt`. Bytes rows are raw JSONL lines passed through unchanged."""
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        buf = io.BytesIO()
        try:
            table = pa.Table.from_pylist(rows)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise ValueError(f"records do not fit one Parquet schema ({err}); write JSONL instead") from None
        pq.write_table(table, buf)
        return buf.getvalue()
    parts = []
    for r in rows:
        b = r if isinstance(r, bytes) else dumps(r)
        parts.append(b if b.endswith(b"\n") else b + b"\n")
    data = b"".join(parts)
    if fmt.endswith(".gz"):
        return gzip.compress(data, compresslevel=6, mtime=0)
    if fmt.endswith(".zst"):
        import zstandard
        return zstandard.ZstdCompressor(level=3).compress(data)
    return data


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


_MODE = 0o666 & ~_umask()


@contextmanager
def atomic_open(path: str | os.PathLike):
    """Stream into a temp file beside `path`; rename over it only when the block succeeds.
    New files get the usual umask permissions (mkstemp alone would make them private)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path) as f:
        f.write(data)


def concat_files(parts: list[str], out: str, fmt: str = "jsonl") -> None:
    """Join shard files into one file atomically. Concatenated gzip members and zstd frames are
    valid streams, so compressed JSONL is joined byte for byte; Parquet is rewritten row group by group."""
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        schemas = [pq.read_schema(p) for p in parts]
        schema = pa.unify_schemas(schemas, promote_options="permissive") if schemas else pa.schema([])
        with atomic_open(out) as f:
            writer = pq.ParquetWriter(f, schema)
            for p in parts:
                t = pq.read_table(p)
                for name in schema.names:
                    if name not in t.column_names:
                        t = t.append_column(name, pa.nulls(len(t), schema.field(name).type))
                writer.write_table(t.select(schema.names).cast(schema))
            writer.close()
        return
    with atomic_open(out) as f:
        for p in parts:
            with open(p, "rb") as src:
                while chunk := src.read(1 << 20):
                    f.write(chunk)
