import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import run_cli

DEMO = str(Path(__file__).parent / "fixtures" / "demo.tsv")
SPUN = "Rights teams condemned compelled labor, the White Home stated final month.\n"


def _w(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


def test_check_format_and_exit_codes(tmp_path):
    spun = _w(tmp_path, "spun.txt", "Intro.\n" + SPUN)
    clean = _w(tmp_path, "clean.txt", "Rights groups condemned forced labor.\n")
    r = run_cli("check", "--fast", "--tables", DEMO, str(spun), cwd=tmp_path)
    assert r.returncode == 1
    lines = r.stdout.decode().splitlines()
    assert lines[0] == f"{spun}:2:1: spin 'Rights teams' -> 'Rights groups' (1.00)"
    assert f"{spun}:2:24: spin 'compelled labor' -> 'forced labor' (1.00)" in lines
    assert len(lines) == 5
    r = run_cli("check", "--fast", "--tables", DEMO, str(clean), cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, b"")


def test_weak_entries_are_only_suggestions_in_clean_text(tmp_path):
    p = _w(tmp_path, "a.txt", "The minister stated that the budget was final.\n")
    r = run_cli("check", "--fast", "--tables", DEMO, str(p), cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, b"")
    r = run_cli("check", "--fast", "--tables", DEMO, "--suggestions", str(p), cwd=tmp_path)
    assert r.returncode == 0 and b"[suggestion, not applied]" in r.stdout
    r = run_cli("check", "--fast", "--tables", DEMO, "--suggestions", "--strict", str(p), cwd=tmp_path)
    assert r.returncode == 1


def test_fix_stdin_outputs_cleaned_text():
    r = run_cli("fix", "--fast", "--tables", DEMO, "-", stdin=SPUN.encode())
    assert r.returncode == 1
    assert r.stdout.decode() == "Rights groups condemned forced labor, the White House said last month.\n"


def test_fix_json_contract(tmp_path):
    p = _w(tmp_path, "a.txt", SPUN)
    r = run_cli("fix", "--fast", "--tables", DEMO, "--format", "json", str(p), cwd=tmp_path)
    objs = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert len(objs) == 1
    o = objs[0]
    assert set(o) == {"path", "text", "spin_score", "edits"}
    assert o["path"] == str(p)
    for e in o["edits"]:
        assert set(e) >= {"id", "start", "end", "before", "after", "kind", "source", "score", "applied", "reason"}
        assert SPUN[e["start"]:e["end"]] == e["before"]
    assert p.read_text() == SPUN  # no --write: file untouched


def test_fix_diff_and_write_preserve_bytes(tmp_path):
    data = b"\xef\xbb\xbfHeader\r\n" + SPUN.replace("\n", "\r\n").encode() + b"no newline at end"
    p = _w(tmp_path, "a.md", data)
    r = run_cli("fix", "--fast", "--tables", DEMO, str(p), cwd=tmp_path)
    assert r.stdout.startswith(b"--- a/") and b"+Rights groups" in r.stdout
    assert p.read_bytes() == data
    r = run_cli("fix", "--fast", "--tables", DEMO, "--write", "--log", str(tmp_path / "log.jsonl"), str(p), cwd=tmp_path)
    assert r.returncode == 1
    out = p.read_bytes()
    assert out.startswith(b"\xef\xbb\xbfHeader\r\nRights groups") and out.endswith(b"\r\nno newline at end")
    # revert restores the input byte for byte
    r = run_cli("revert", "--log", str(tmp_path / "log.jsonl"), str(p), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert p.read_bytes() == data


def test_revert_refuses_when_file_changed_since(tmp_path):
    p = _w(tmp_path, "a.txt", SPUN)
    log = str(tmp_path / "log.jsonl")
    run_cli("fix", "--fast", "--tables", DEMO, "--write", "--log", log, str(p), cwd=tmp_path)
    p.write_text(p.read_text() + "edited by hand\n")
    r = run_cli("revert", "--log", log, str(p), cwd=tmp_path)
    assert r.returncode == 2 and b"changed since" in r.stderr


def test_bad_inputs(tmp_path):
    bad = _w(tmp_path, "bad.txt", b"ok \xc3\x28 broken")
    binary = _w(tmp_path, "img.txt", b"\x89PNG\0\0\0binary")
    empty = _w(tmp_path, "empty.txt", b"")
    r = run_cli("fix", "--fast", "--tables", DEMO, "--write", str(bad), str(binary), str(empty), cwd=tmp_path)
    err = r.stderr.decode()
    assert r.returncode == 2
    assert "invalid UTF-8 at byte 3" in err and "binary file" in err
    assert bad.read_bytes() == b"ok \xc3\x28 broken" and empty.read_bytes() == b""
    r = run_cli("check", "--fast", str(empty), cwd=tmp_path)
    assert r.returncode == 0


def test_missing_file_is_an_error(tmp_path):
    r = run_cli("check", "--fast", str(tmp_path / "nope.txt"), cwd=tmp_path)
    assert r.returncode == 2 and b"nope.txt" in r.stderr


def test_config_file_user_entries_ignore_and_exclude(tmp_path):
    (tmp_path / ".cleaner.toml").write_text(
        f'tables = ["{DEMO}"]\nignore_words = ["rights teams"]\nexclude = ["vendor/*"]\n'
        '[entries]\n"cloud computing platform" = "cloud platform"\n')
    (tmp_path / "vendor").mkdir()
    _w(tmp_path, "vendor/x.txt", SPUN)
    p = _w(tmp_path, "doc.txt", "Rights teams use a cloud computing platform.\n")
    r = run_cli("fix", "--fast", "-", stdin=p.read_bytes(), cwd=tmp_path)
    assert r.stdout.decode() == "Rights teams use a cloud platform.\n"
    # excludes apply to folders and to files named explicitly (pre-commit passes them)
    r = run_cli("check", "--fast", ".", "vendor/x.txt", cwd=tmp_path)
    assert "vendor" not in r.stdout.decode()


def test_pyproject_config_is_found_upward(tmp_path):
    (tmp_path / "pyproject.toml").write_text(f'[tool.cleaner]\ntables = ["{DEMO}"]\napply_threshold = 0.2\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    r = run_cli("fix", "--fast", "-", stdin=b"He stated it.\n", cwd=sub)
    assert r.stdout == b"He said it.\n"


def test_bad_config_is_a_clear_error(tmp_path):
    (tmp_path / ".cleaner.toml").write_text("tabels = []\n")
    r = run_cli("check", "--fast", "-", stdin=b"x", cwd=tmp_path)
    assert r.returncode == 2 and b"unknown [tool.cleaner] key(s): tabels" in r.stderr


def test_tables_command_validates_shipped_tables():
    r = run_cli("tables")
    assert r.returncode == 0, r.stdout.decode()


def test_missing_table_is_a_clear_error(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("Officials said so.\n", encoding="utf-8")
    r = run_cli("fix", "--tables", str(tmp_path / "missing.tsv"), str(f))
    assert r.returncode == 2
    assert b"not found" in r.stderr and b"Traceback" not in r.stderr
