import codecs
import os

import pytest

from cleaner import textio
from cleaner.textio import BinaryFile, InputError, atomic_write_bytes, decode, read_document


@pytest.mark.parametrize("data", [
    b"plain\n", b"crlf\r\nlines\r\n", b"no final newline", b"", codecs.BOM_UTF8 + b"bom\r\n",
    codecs.BOM_UTF16_LE + "utf16 \u00e9\n".encode("utf-16-le"), "caf\u00e9 \u2014 \u201cq\u201d".encode(),
])
def test_decode_encode_roundtrip_is_exact(data):
    doc = decode(data)
    assert doc.encode() == data


def test_crlf_survives_in_text():
    assert decode(b"a\r\nb").text == "a\r\nb"


def test_invalid_utf8_reports_byte_offset():
    with pytest.raises(InputError, match="byte 6"):
        decode(b"hello \xff world", "x.txt")


def test_binary_is_detected():
    with pytest.raises(BinaryFile):
        decode(b"\x89PNG\r\n\x1a\n\0\0\0")


def test_size_limit(tmp_path):
    p = tmp_path / "big.txt"
    p.write_bytes(b"x" * 100)
    with pytest.raises(InputError, match="limit"):
        read_document(p, max_bytes=10)
    assert read_document(p, max_bytes=0).text == "x" * 100


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "a.txt"
    p.write_bytes(b"original")
    os.chmod(p, 0o640)

    def boom(*a):
        raise KeyboardInterrupt
    monkeypatch.setattr(textio.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(p, b"new content")
    assert p.read_bytes() == b"original"
    assert [x.name for x in tmp_path.iterdir()] == ["a.txt"]  # no temp file left behind


def test_atomic_write_keeps_mode(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes(b"x")
    os.chmod(p, 0o640)
    atomic_write_bytes(p, b"y")
    assert p.read_bytes() == b"y" and (os.stat(p).st_mode & 0o777) == 0o640
