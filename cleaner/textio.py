"""Exact reading and atomic writing of text files.

A file is decoded without newline translation, so CRLF, a missing final newline and
the BOM all survive a read/write round trip byte for byte.
"""

from __future__ import annotations

import codecs
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_BYTES = 64 * 1024 * 1024

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class InputError(Exception):
    """A file that cannot be processed; the message says why. The file is never modified."""


class BinaryFile(InputError):
    pass


@dataclass
class Document:
    text: str
    encoding: str = "utf-8"
    bom: bytes = b""
    path: str = "-"

    def encode(self, text: str | None = None) -> bytes:
        return self.bom + (self.text if text is None else text).encode(self.encoding)


def decode(data: bytes, path: str = "-") -> Document:
    """Decode bytes exactly. Raises `BinaryFile` or `InputError` (with the byte offset of bad UTF-8)."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return Document(data[len(bom):].decode(enc), enc, bom, path)
            except UnicodeDecodeError as err:
                raise InputError(f"{path}: invalid {enc} at byte {err.start + len(bom)}") from None
    if b"\0" in data[:8192]:
        raise BinaryFile(f"{path}: binary file (NUL byte), skipped")
    try:
        return Document(data.decode("utf-8"), "utf-8", b"", path)
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: invalid UTF-8 at byte {err.start} ({err.reason}); file left untouched") from None


def read_document(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    p = str(path)
    if p == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            size = os.path.getsize(p)
        except OSError as err:
            raise InputError(f"{p}: {err.strerror}") from None
        if max_bytes and size > max_bytes:
            raise InputError(f"{p}: {size} bytes is over the {max_bytes}-byte limit for single files "
                             f"(raise max_file_size, or use `cleaner clean` which streams)")
        try:
            with open(p, "rb") as f:
                data = f.read()
        except OSError as err:
            raise InputError(f"{p}: {err.strerror}") from None
    return decode(data, p)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename over the target.

    An interrupted write leaves either the old file or the new one, never a partial file.
    The target's permission bits are kept.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))
