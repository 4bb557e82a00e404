"""The real pre-commit package runs our hooks from this checkout (`pre-commit try-repo`)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def content_repo(tmp_path_factory):
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    d = tmp_path_factory.mktemp("content")
    _git(d, "init", "-q")
    _git(d, "config", "user.email", "t@example.org")
    _git(d, "config", "user.name", "t")
    (d / "spun.md").write_text("# News\n\nRights teams condemned compelled labor and local weather change.\n")
    (d / "clean.md").write_text("# News\n\nRights groups condemned forced labor and climate change.\n")
    (d / "vendor").mkdir()
    (d / "vendor" / "copy.md").write_text("Rights teams condemned compelled labor.\n")
    (d / ".cleaner.toml").write_text('exclude = ["vendor/*"]\n')
    _git(d, "add", "-A")
    return d


def _try(repo, hook, *files):
    env = {**os.environ, "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home")}
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, "--files", *files],
                          cwd=repo, capture_output=True, text=True, env=env, timeout=600)


def test_hook_fails_on_spun_file(content_repo):
    r = _try(content_repo, "cleaner", "spun.md")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "'compelled labor' -> 'forced labor'" in r.stdout


def test_hook_passes_on_clean_and_excluded_files(content_repo):
    r = _try(content_repo, "cleaner", "clean.md", "vendor/copy.md")
    assert r.returncode == 0, r.stdout + r.stderr


def test_fix_hook_rewrites(content_repo):
    r = _try(content_repo, "cleaner-fix", "spun.md")
    assert r.returncode == 1
    assert (content_repo / "spun.md").read_text() == "# News\n\nRights groups condemned forced labor and climate change.\n"
