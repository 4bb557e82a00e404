"""README.md is assembled from docs/readme/*.md; a stale README fails here."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_matches_its_parts():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_readme.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
