"""Configuration: `[tool.cleaner]` in pyproject.toml or a `.cleaner.toml`, searched upward."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore

DEFAULT_STAGES = ("tables", "mt", "detector", "rewriter")
ALL_STAGES = DEFAULT_STAGES
DEFAULT_INCLUDE = ["*.md", "*.markdown", "*.txt", "*.text", "*.html", "*.htm", "*.rst"]


class ConfigError(ValueError):
    pass


@dataclass
class Config:
    tables: list[str] = field(default_factory=lambda: ["news-spinner", "news-variants", "tortured", "mt"])
    stages: tuple[str, ...] = DEFAULT_STAGES
    apply_threshold: float = 0.8
    report_threshold: float = 0.25
    spin_weight: float = 3.0
    include: list[str] = field(default_factory=lambda: list(DEFAULT_INCLUDE))
    exclude: list[str] = field(default_factory=list)
    entries: dict[str, str] = field(default_factory=dict)
    ignore_words: list[str] = field(default_factory=list)
    exclude_entries: list[str] = field(default_factory=list)
    variants: bool = True
    max_file_size: int = 64 * 1024 * 1024
    languagetool: str | None = None
    models_dir: str | None = None
    source: str | None = None

    def validate(self) -> "Config":
        for s in self.stages:
            if s not in ALL_STAGES:
                raise ConfigError(f"unknown stage {s!r} (known: {', '.join(ALL_STAGES)})")
        for name in ("apply_threshold", "report_threshold"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {v}")
        return self

    def excluded(self, path: str | os.PathLike, root: Path | None = None) -> bool:
        """True when `path` matches an exclude glob (checked on the relative path and the name)."""
        p = Path(path)
        cands = {p.as_posix(), p.name}
        if root is not None:
            try:
                cands.add(p.resolve().relative_to(root.resolve()).as_posix())
            except ValueError:
                pass
        return any(fnmatch.fnmatch(c, g) or fnmatch.fnmatch(c, g.rstrip("/") + "/*") for g in self.exclude for c in cands)

    def included(self, path: str | os.PathLike) -> bool:
        name = Path(path).name
        return any(fnmatch.fnmatch(name, g) for g in self.include)


# The type a file may give each key (stages is a list in TOML, a tuple once loaded).
_TYPES = {"tables": list, "stages": list, "apply_threshold": float, "report_threshold": float,
          "spin_weight": float, "include": list, "exclude": list, "entries": dict, "ignore_words": list,
          "exclude_entries": list, "variants": bool, "max_file_size": int, "languagetool": str,
          "models_dir": str}
_TYPE_NAMES = {list: "a list of strings", float: "a number", dict: "a table of strings", bool: "true or false",
               int: "an integer", str: "a string"}


def _from_mapping(data: dict, source: str) -> Config:
    known = {f.name for f in fields(Config)} - {"source"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{source}: unknown [tool.cleaner] key(s): {', '.join(sorted(unknown))}")
    data = dict(data)
    for k, v in data.items():
        want = _TYPES[k]
        # TOML has no null, and an int is a fine float; a bool is not a number and "false" is no bool.
        ok = (isinstance(v, want) and not (isinstance(v, bool) and want is not bool)) or (
            want is float and isinstance(v, int) and not isinstance(v, bool))
        if want is list:
            ok = ok and all(isinstance(x, str) for x in v)
        elif want is dict:
            ok = ok and all(isinstance(x, str) for x in v.values())
        if not ok:
            raise ConfigError(f"{source}: {k} must be {_TYPE_NAMES[want]}, got {v!r}")
    if "stages" in data:
        data["stages"] = tuple(data["stages"])
    cfg = Config(**data, source=source)
    return cfg.validate()


def find_config(start: Path | None = None) -> Path | None:
    d = (start or Path.cwd()).resolve()
    if d.is_file():
        d = d.parent
    for folder in (d, *d.parents):
        dot = folder / ".cleaner.toml"
        if dot.is_file():
            return dot
        py = folder / "pyproject.toml"
        if py.is_file():
            try:
                if "cleaner" in tomllib.loads(py.read_text(encoding="utf-8")).get("tool", {}):
                    return py
            except (tomllib.TOMLDecodeError, UnicodeDecodeError):
                continue
        if (folder / ".git").exists():
            break
    return None


def load_config(path: str | os.PathLike | None = None, start: Path | None = None) -> Config:
    """Load an explicit config file, or the nearest one upward from `start`, or the defaults."""
    p = Path(path) if path else find_config(start)
    if p is None:
        return Config()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{p}: {err}") from None
    if p.name == "pyproject.toml":
        data = data.get("tool", {}).get("cleaner", {})
    elif "tool" in data and "cleaner" in data["tool"]:
        data = data["tool"]["cleaner"]
    return _from_mapping(data, str(p))
