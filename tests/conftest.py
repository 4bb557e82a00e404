import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CASES = Path(__file__).resolve().parent / "cases"

# The neural stages are exercised in their own tests; the rest of the suite runs tables + rules
# so it stays fast and deterministic whether or not weights are present.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The compiled-table cache goes to a fresh folder per test run, never the user's ~/.cache.
if "CLEANER_CACHE_DIR" not in os.environ:
    import atexit
    import shutil
    import tempfile
    os.environ["CLEANER_CACHE_DIR"] = tempfile.mkdtemp(prefix="cleaner-test-cache-")
    atexit.register(shutil.rmtree, os.environ["CLEANER_CACHE_DIR"], True)


def shared(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"needs ../shared/{'/'.join(parts)} (not present on this machine)")
    return p


@pytest.fixture(scope="session")
def fast_cleaner():
    from cleaner import Cleaner
    return Cleaner(stages=("tables", "mt"))


def run_cli(*args, stdin: bytes | None = None, cwd=None):
    import subprocess
    return subprocess.run([sys.executable, "-m", "cleaner", *args], input=stdin, capture_output=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
