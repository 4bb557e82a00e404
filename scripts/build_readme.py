"""Assemble README.md from its parts in docs/readme/ (edit the parts, then run this).

    .venv/bin/python scripts/build_readme.py [--check]

--check exits 1 when README.md differs from the parts (tests/test_readme.py runs it).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTS = ["head", "glance", "core", "tables", "detector", "rewriter", "batch", "review", "evaluation"]


def build() -> str:
    texts = [(ROOT / "docs" / "readme" / f"{p}.md").read_text(encoding="utf-8").strip("\n") for p in PARTS]
    return "\n\n".join(texts) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    readme = ROOT / "README.md"
    text = build()
    if "--check" in argv:
        same = readme.read_text(encoding="utf-8") == text
        if not same:
            print("README.md is out of date: run scripts/build_readme.py", file=sys.stderr)
        return 0 if same else 1
    tmp = readme.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
