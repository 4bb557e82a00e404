"""Lexical document gate (cleaner/gate.py) and its use in `cleaner clean` / DocCleaner / datatrove.

Fast and deterministic: a tiny weights table written by the test, fake neural stages (no torch).
"""

import json
from pathlib import Path

import pytest

from cleaner import gate as G
from cleaner.batch import GATE_SCORE, DocCleaner, parse_gate
from cleaner.cli import build_parser, main
from cleaner.config import Config

ROOT = Path(__file__).resolve().parent.parent
DEMO = str(ROOT / "tests" / "fixtures" / "demo.tsv")

ORIGINAL = "The committee met on Tuesday and approved the budget for the next year."
SPUN = "The board of trustees met on Tuesday and accepted the financial plan for the following year."
TABLE_SPUN = "Rights teams warn about local weather change and compelled labor in the final month."
PROSE = ("The river rises in the northern hills and flows south through farmland before it reaches the sea. "
         "Its valley has been settled since the Bronze Age, and the town at its mouth grew rich on trade. ")

# spinner-made pairs (positive) and their originals (negative), as scripts/train_gate.py would learn
WEIGHTS = {(b"board", b"of"): 1.5, (b"of", b"trustees"): 2.0, (b"accepted", b"the"): 1.0,
           (b"financial", b"plan"): 3.0, (b"the", b"following"): 1.0, (b"following", b"year"): 2.5,
           (b"approved", b"the"): -1.0, (b"the", b"budget"): -1.5, (b"next", b"year"): -1.0,
           (b"the", b"committee"): -0.5}
THRESHOLD = 0.3


def write_gate(folder: Path, threshold: float = THRESHOLD) -> Path:
    G.Gate(WEIGHTS, threshold, meta={"note": "test fixture"}).save(folder / "gate", header="test fixture")
    return folder


@pytest.fixture
def models(tmp_path, monkeypatch):
    """A models folder holding only the tiny gate; the load cache is per folder, so it is fresh."""
    write_gate(tmp_path)
    monkeypatch.setattr(G, "_LOADED", {})
    return tmp_path


def record_neural(dc: DocCleaner) -> list[list[str]]:
    """Record the batches given to the full (neural) pipeline (whose models are off: see no_models)."""
    calls: list[list[str]] = []
    real = dc.cleaner.clean_batch

    def clean_batch(texts, paths=None):
        calls.append(list(texts))
        return real(texts, paths)
    dc.cleaner.clean_batch = clean_batch
    return calls


def no_models(monkeypatch):
    """Neural stages configured, but their models are 'off' (no torch import, no weights)."""
    from cleaner.pipeline import Cleaner
    monkeypatch.setattr(Cleaner, "_model", lambda self, name: None)


# -- the gate itself --------------------------------------------------------------------------------
def test_words_and_features_are_cheap_byte_tokens():
    assert G.words("Don't STOP, café-owners: 42 times!") == [b"don't", b"stop", "café".encode(), b"owners", b"times"]
    assert G.features([b"a", b"b", b"c"]) == [(b"a", b"b"), (b"b", b"c")]
    assert G.words("") == [] and G.features([]) == []


def test_spun_scores_above_its_original_and_fires():
    g = G.Gate(WEIGHTS, THRESHOLD)
    assert g.score(SPUN) > THRESHOLD > g.score(ORIGINAL)
    assert g.fires(SPUN) and not g.fires(ORIGINAL)
    assert g.fires(ORIGINAL, threshold=-10) and not g.fires(SPUN, threshold=10)
    assert g.score("") == 0.0 and g.score("... 123 !!!") == 0.0


def test_score_is_length_robust():
    g = G.Gate(WEIGHTS, THRESHOLD)
    # a long clean document does not pile up evidence: its score does not grow with its length
    one, many = g.score(PROSE + ORIGINAL), g.score((PROSE + ORIGINAL) * 200)
    assert many <= one + 1e-9 and not g.fires((PROSE + ORIGINAL) * 200)
    # a spun text scores about the same at any length (the prior only shrinks very short texts)
    assert abs(g.score(SPUN * 200) - g.score(SPUN * 20)) < 0.03 * g.score(SPUN * 200)
    # one odd pair in a two-word snippet is shrunk towards 0 by the prior
    assert 0 < g.score("financial plan") < g.score(SPUN)


def test_save_load_roundtrip_and_sorted_plain_tsv(tmp_path):
    write_gate(tmp_path)
    lines = (tmp_path / "gate" / "weights.tsv").read_text().splitlines()
    body = [x for x in lines if not x.startswith("#")]
    assert body == sorted(body) and len(body) == len(WEIGHTS) and "board of\t1.5" in body
    g = G.Gate.load(tmp_path / "gate")
    assert g.weights == WEIGHTS and g.threshold == THRESHOLD and g.prior_words == G.PRIOR_WORDS
    assert g.meta["note"] == "test fixture"


def test_missing_gate_folder_is_a_clear_notice_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setattr(G, "_LOADED", {})
    gate, why = G.load_gate(tmp_path)
    assert gate is None and "lexical gate unavailable" in why and "train_gate.py" in why
    (tmp_path / "gate").mkdir()
    (tmp_path / "gate" / "gate.json").write_text("{}")
    (tmp_path / "gate" / "weights.tsv").write_text("no tab here\n")
    monkeypatch.setattr(G, "_LOADED", {})
    gate, why = G.load_gate(tmp_path)
    assert gate is None and "lexical gate unavailable" in why


def test_shipped_gate_if_present():
    gate, why = G.load_gate()
    if gate is None:
        pytest.skip(why)
    assert gate.threshold > 0 and len(gate.weights) > 1000
    assert (G.default_dir() / "weights.tsv").stat().st_size < 2e6


# -- routing in DocCleaner ----------------------------------------------------------------------------
def test_fast_stages_never_load_the_gate(monkeypatch):
    monkeypatch.setattr(G, "load_gate", lambda *a, **k: pytest.fail("gate loaded on the fast path"))
    dc = DocCleaner(stages=("tables", "mt"), tables=[DEMO])
    assert dc.fast is None and dc.lexical is None and not dc.notices
    out = dc.clean([TABLE_SPUN, ORIGINAL])
    assert [c.neural for c in out] == [False, False] and out[0].edits


def test_auto_routes_lexical_or_table_score(models, monkeypatch):
    no_models(monkeypatch)
    dc = DocCleaner(Config(models_dir=str(models)), stages=("tables", "mt", "detector"), tables=[DEMO])
    assert dc.lexical is not None and dc.gate_threshold == THRESHOLD and not dc.notices
    calls = record_neural(dc)
    out = dc.clean([ORIGINAL, SPUN, TABLE_SPUN, PROSE])
    assert [c.neural for c in out] == [False, True, True, False]
    assert calls == [[SPUN, TABLE_SPUN]]  # one batch, only the routed documents
    assert out[2].spin_score >= GATE_SCORE and out[2].edits  # the table result is kept for all
    assert dc.route(SPUN, 0.0) and dc.route(ORIGINAL, GATE_SCORE) and not dc.route(ORIGINAL, 0.0)
    # a lower threshold routes more
    low = DocCleaner(Config(models_dir=str(models)), stages=("tables", "mt", "detector"), tables=[DEMO],
                     gate_threshold=-1.0)
    assert low.route(ORIGINAL, 0.0)
    assert low.clean([PROSE])[0].neural


def test_score_gate_off_and_missing_gate(tmp_path, models, monkeypatch):
    no_models(monkeypatch)
    cfg = Config(models_dir=str(models))
    score_only = DocCleaner(cfg, stages=("tables", "mt", "detector"), tables=[DEMO], gate=0.5)
    assert score_only.lexical is None
    assert [c.neural for c in score_only.clean([SPUN, TABLE_SPUN])] == [False, True]
    for off in ("off", None):
        dc = DocCleaner(cfg, stages=("tables", "mt", "detector"), tables=[DEMO], gate=off)
        assert dc.fast is None and [c.neural for c in dc.clean([ORIGINAL, SPUN])] == [True, True]
    missing = DocCleaner(Config(models_dir=str(tmp_path / "none")), stages=("tables", "mt", "detector"), tables=[DEMO])
    assert missing.lexical is None and missing.fast is None
    assert len(missing.notices) == 1 and "lexical gate unavailable" in missing.notices[0]
    assert [c.neural for c in missing.clean([ORIGINAL])] == [True]
    with pytest.raises(ValueError):
        DocCleaner(cfg, stages=("tables", "mt"), tables=[DEMO], gate="sometimes")


# -- command line ------------------------------------------------------------------------------------
def parse(*args):
    return build_parser("clean").parse_args(["clean", "in.jsonl", "-o", "out.jsonl", *args])


def test_cli_gate_flags():
    assert parse().gate == "auto" and parse().gate_threshold is None
    assert parse("--gate", "off").gate == "off" and parse("--no-gate").gate == "off"
    assert parse("--gate", "AUTO").gate == "auto" and parse("--gate", "0.4").gate == 0.4
    assert parse("--gate-threshold", "0.12").gate_threshold == 0.12
    assert parse_gate("0") == 0.0 and parse_gate("1") == 1.0


@pytest.mark.parametrize("bad", ["1.5", "-0.1", "sometimes"])
def test_cli_rejects_bad_gate(bad, capsys):
    with pytest.raises(SystemExit) as e:
        parse("--gate", bad)
    assert e.value.code == 2 and "--gate" in capsys.readouterr().err


def run_clean(tmp_path, *extra) -> dict:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate([ORIGINAL, SPUN, TABLE_SPUN])))
    out = tmp_path / "out.jsonl"
    assert main(["clean", str(src), "-o", str(out), "--tables", DEMO, "--progress", "none", "--overwrite", *extra]) == 0
    return json.loads((tmp_path / "out.jsonl.summary.json").read_text())


def test_cli_summary_counts_neural_documents(models, tmp_path, monkeypatch, capsys):
    no_models(monkeypatch)
    monkeypatch.setenv("CLEANER_MODELS", str(models))
    s = run_clean(tmp_path, "--stages", "tables,mt,detector")
    assert s["neural_documents"] == 2 and s["gate"].startswith("auto: lexical score >= 0.3")
    assert "neural" in (tmp_path / "out.jsonl.report.html").read_text()
    s = run_clean(tmp_path, "--stages", "tables,mt,detector", "--gate-threshold", "-5")
    assert s["neural_documents"] == 3
    s = run_clean(tmp_path, "--stages", "tables,mt,detector", "--no-gate")
    assert s["neural_documents"] == 3 and s["gate"] == "off"
    s = run_clean(tmp_path, "--stages", "tables,mt,detector", "--gate", "0.5")
    assert s["neural_documents"] == 1 and s["gate"] == "spin score >= 0.5"
    assert "lexical gate unavailable" not in capsys.readouterr().err


def test_cli_missing_gate_notice_once_and_fast_summary_unchanged(tmp_path, monkeypatch, capsys):
    no_models(monkeypatch)
    monkeypatch.setattr(G, "_LOADED", {})
    monkeypatch.setenv("CLEANER_MODELS", str(tmp_path / "nothing"))
    s = run_clean(tmp_path, "--stages", "tables,mt,detector")
    err = capsys.readouterr().err
    assert err.count("lexical gate unavailable") == 1 and "every document goes through the neural stages" in err
    assert s["neural_documents"] == 3 and s["gate"] == "off (models/gate unavailable)"
    s = run_clean(tmp_path, "--fast")
    assert "neural_documents" not in s and "gate" not in s
    assert "lexical gate" not in capsys.readouterr().err


# -- datatrove ------------------------------------------------------------------------------------------
def test_datatrove_step_gate_options(models, monkeypatch):
    pytest.importorskip("datatrove")
    from datatrove.data import Document

    from cleaner.integrations.datatrove import CleanerStep
    no_models(monkeypatch)
    with pytest.raises(ValueError):
        CleanerStep(gate="sometimes")
    step = CleanerStep(config=Config(models_dir=str(models)), stages=("tables", "mt", "detector"), tables=[DEMO],
                       gate_threshold=0.25)
    assert step.cleaner.gate_threshold == 0.25 and step.cleaner.lexical is not None
    docs = list(step.run([Document(text=t, id=str(i)) for i, t in enumerate([ORIGINAL, SPUN, TABLE_SPUN])]))
    assert len(docs) == 3 and step.stats["neural"].total == 2


def test_workers_get_one_torch_thread_without_importing_torch(monkeypatch):
    import subprocess
    import sys
    from cleaner.batch import one_torch_thread
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # restored after the test
    one_torch_thread()
    import os
    assert os.environ["OMP_NUM_THREADS"] == "1"
    code = "import sys; from cleaner.batch import one_torch_thread; one_torch_thread(); print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip() == "False", r.stderr
