"""Config files: every key is type-checked, so a quoted "false" is an error, not a true value."""

import pytest

from cleaner.config import Config, ConfigError, load_config

BAD = [
    ('variants = "false"', "variants must be true or false"),
    ("apply_threshold = true", "apply_threshold must be a number"),
    ('apply_threshold = "0.9"', "apply_threshold must be a number"),
    ('tables = "tortured"', "tables must be a list of strings"),
    ("tables = [1]", "tables must be a list of strings"),
    ("max_file_size = 1.5", "max_file_size must be an integer"),
    ("languagetool = 8081", "languagetool must be a string"),
    ("[entries]\nfoo = 1", "entries must be a table of strings"),
    ("apply_threshold = 1.5", "apply_threshold must be in [0, 1]"),
    ('stages = ["tables", "spell"]', "unknown stage 'spell'"),
]

GOOD = [
    ("variants = false", "variants", False),
    ("apply_threshold = 1", "apply_threshold", 1),  # an integer is a fine number
    ("spin_weight = 2", "spin_weight", 2),
    ('stages = ["tables", "mt"]', "stages", ("tables", "mt")),
    ("max_file_size = 1024", "max_file_size", 1024),
    ('[entries]\n"foo bar" = "baz"', "entries", {"foo bar": "baz"}),
]


@pytest.mark.parametrize("body,message", BAD)
def test_bad_value_is_a_clear_error(tmp_path, body, message):
    p = tmp_path / ".cleaner.toml"
    p.write_text(body + "\n")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(p)


@pytest.mark.parametrize("body,key,value", GOOD)
def test_good_value_is_loaded(tmp_path, body, key, value):
    p = tmp_path / ".cleaner.toml"
    p.write_text(body + "\n")
    assert getattr(load_config(p), key) == value


def test_pyproject_section_is_checked_too(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text('[tool.cleaner]\nvariants = "no"\n')
    with pytest.raises(ConfigError, match="variants must be true or false"):
        load_config(p)


def test_defaults_need_no_file(tmp_path):
    (tmp_path / ".git").mkdir()  # the upward search stops at a repository root
    assert load_config(start=tmp_path) == Config()
