"""The compiled-table cache: reused when nothing changed, rebuilt when a table or setting changes,
ignored when damaged or unwritable."""

import os
import shutil
from pathlib import Path

from cleaner import Cleaner
from cleaner.config import Config

DEMO = Path(__file__).parent / "fixtures" / "demo.tsv"


def _table(tmp_path) -> Path:
    p = tmp_path / "mine.tsv"
    shutil.copy(DEMO, p)
    return p


def _pickles(folder: Path):
    return sorted(folder.glob("tables-*.pickle"))


def test_reused_then_rebuilt_on_change(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("CLEANER_CACHE_DIR", str(cache))
    table = _table(tmp_path)
    first = Cleaner(stages=("tables", "mt"), tables=[str(table)])
    assert len(_pickles(cache)) == 1
    again = Cleaner(stages=("tables", "mt"), tables=[str(table)])
    assert len(_pickles(cache)) == 1
    text = "Rights teams met."
    assert again.clean(text).text == first.clean(text).text != text
    # An edited table (new size and mtime) gets a new key: the new entry is used.
    table.write_text(table.read_text(encoding="utf-8") + "zzqx\tzzqy\t1.0\n", encoding="utf-8")
    os.utime(table, ns=(1, 1))
    edited = Cleaner(stages=("tables", "mt"), tables=[str(table)])
    assert edited.clean("a zzqx b").text == "a zzqy b"
    assert len(_pickles(cache)) == 2
    # Settings are part of the key too.
    ignoring = Cleaner(Config(ignore_words=["rights teams"]), stages=("tables", "mt"), tables=[str(table)])
    assert ignoring.clean(text).text == text


def test_damaged_cache_is_rebuilt(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("CLEANER_CACHE_DIR", str(cache))
    table = _table(tmp_path)
    Cleaner(stages=("tables", "mt"), tables=[str(table)])
    (pickle,) = _pickles(cache)
    pickle.write_bytes(b"not a pickle")
    c = Cleaner(stages=("tables", "mt"), tables=[str(table)])
    assert c.clean("Rights teams met.").text == "Rights groups met."
    assert pickle.read_bytes() != b"not a pickle"


def test_unwritable_or_disabled_cache_is_not_an_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("CLEANER_CACHE_DIR", str(blocker / "sub"))  # cannot be created
    assert Cleaner(stages=("tables", "mt"), tables=[str(_table(tmp_path))]).clean("Rights teams met.").changed
    monkeypatch.setenv("CLEANER_CACHE_DIR", "off")
    assert Cleaner(stages=("tables", "mt"), tables=[str(_table(tmp_path))]).clean("Rights teams met.").changed


def test_with_stages_shares_the_compiled_tables():
    full = Cleaner(stages=("tables", "mt", "detector"))
    fast = full.with_stages(("tables", "mt"))
    assert fast.matcher is full.matcher and fast.stages == ("tables", "mt")
    text = "Rights teams said the the plan was attainable."
    assert fast.clean(text).to_dict() == Cleaner(stages=("tables", "mt")).clean(text).to_dict()
    assert full.with_stages(("mt",)).matcher is None
