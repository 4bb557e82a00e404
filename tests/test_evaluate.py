"""Evaluation harness: metric definitions on hand-made cases, and the --smoke run (seconds, no ../shared)."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import evaluate  # noqa: E402
from cleaner import Edit, Result  # noqa: E402

ORIG = "Officials said the bill was one of many."
SPUN = "Officials stated the invoice was considered one of many."
GOLD = [{"start": 10, "end": 16, "orig_start": 10, "orig_end": 14, "before": "stated", "after": "said"},
        {"start": 21, "end": 28, "orig_start": 19, "orig_end": 23, "before": "invoice", "after": "bill"},
        {"start": 33, "end": 47, "orig_start": 28, "orig_end": 31, "before": "considered one", "after": "one"}]
REC = {"spun": SPUN, "original": ORIG, "spans": GOLD}


def res(*edits):
    from cleaner import apply_edits
    es = [Edit(s, e, SPUN[s:e], a, applied=ap) for s, e, a, ap in edits]
    return Result(SPUN, apply_edits(SPUN, es), 0.0, es)


def test_record_contract_of_the_hand_made_case():
    for g in GOLD:
        assert SPUN[g["start"]:g["end"]] == g["before"] and ORIG[g["orig_start"]:g["orig_end"]] == g["after"]


def test_perfect_restoration():
    s = evaluate.summarise({**evaluate.score_record(REC, res((10, 16, "said", True), (21, 28, "bill", True),
                                                             (33, 47, "one", True))), "records": 1})
    assert (s["precision"], s["recall"], s["exact"], s["token_precision"]) == (1.0, 1.0, 1.0, 1.0)


def test_wider_edit_counts_as_exact_when_the_region_is_restored():
    # one edit spanning "stated the invoice" -> "said the bill" restores two gold phrases
    c = evaluate.score_record(REC, res((10, 28, "said the bill", True)))
    assert c["gold_exact"] == 2 and c["gold_found"] == 2 and c["pred_tp"] == 1


def test_wrong_restoration_and_false_edit():
    c = evaluate.score_record(REC, res((21, 28, "account", True), (0, 9, "Officers", True)))
    s = evaluate.summarise({**c, "records": 1})
    assert s["recall"] == round(1 / 3, 4) and s["precision"] == 0.5
    assert s["exact"] == 0.0 and s["token_precision"] == 0.0


def test_flagged_edits_detect_but_do_not_restore():
    c = evaluate.score_record(REC, res((10, 16, "stated", False)))
    assert c["gold_found"] == 1 and c["gold_exact"] == 0 and c["pred_applied"] == 0


def test_deletion_edit_scored_by_region():
    rec = {"spun": "the the cat", "original": "the cat",
           "spans": [{"start": 0, "end": 7, "orig_start": 0, "orig_end": 3, "before": "the the", "after": "the"}]}
    good = Result(rec["spun"], "the cat", 0.0, [Edit(0, 4, "the ", "")])
    c = evaluate.score_record(rec, good)
    assert c["gold_exact"] == 1 and c["tok_correct"] == c["tok_changed"] == 1


def test_tortured_rows_by_origin():
    """run_synth's `source` splits the tortured family's recall and exact restoration by span origin."""
    class Fixed:
        def clean_batch(self, texts):
            return [res((10, 16, "said", True), (21, 28, "account", True))]

    rec = {**REC, "family": "tortured", "intensity": 0.5}
    origin = {"stated": "pps", "invoice": "pps", "considered one": "collocation"}
    out = evaluate.run_synth(Fixed(), [rec], {"family"}, lambda g: origin[g["before"]])
    pps, col = out["tortured:pps"], out["tortured:collocation"]
    assert (pps["gold"], pps["recall"], pps["exact"]) == (2, 1.0, 0.5)
    assert (col["gold"], col["recall"], col["exact"]) == (1, 0.0, 0.0)
    assert pps["precision"] is None and out["family:tortured"]["gold"] == 3
    assert "tortured:pps" not in evaluate.run_synth(Fixed(), [rec], {"family"})


def test_articles_join_chunks_and_keep_the_gold_contract(tmp_path):
    recs = [{"id": "d#1", "family": "dictionary", "intensity": 0.4, "spun": SPUN, "original": ORIG, "spans": GOLD},
            {"id": "d#0", "family": "none", "intensity": 0.0, "spun": "Clean start.", "original": "Clean start.",
             "spans": []},
            {"id": "e#0", "family": "none", "intensity": 0.0, "spun": "All clean.", "original": "All clean.",
             "spans": []}]
    p = tmp_path / "test.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    [art] = evaluate.join_articles(p, 5)  # document "e" has nothing spun: not an article
    assert art["spun"].startswith("Clean start.\n\n" + SPUN) and art["family"] == "dictionary"
    for g in art["spans"]:
        assert art["spun"][g["start"]:g["end"]] == g["before"]
        assert art["original"][g["orig_start"]:g["orig_end"]] == g["after"]
    s = evaluate.score_record(art, Result(art["spun"], art["spun"], 0.0, []))
    assert (s["gold"], s["gold_found"]) == (3, 0)


def test_smoke_run_writes_json_and_keeps_clean_text_unchanged(tmp_path):
    assert evaluate.main(["--smoke", "--configs", "tables,+detector", "--no-sweep", "--out", str(tmp_path)]) == 0
    rep = json.loads((tmp_path / "smoke.json").read_text())
    t = rep["configs"]["tables"]
    assert t["status"] == "ok" and rep["synth_records"] == 30
    assert set(t["synth"]) >= {"all", "family:mt", "family:none", "intensity:light"}
    assert t["synth"]["all"]["gold"] > 0
    # duplicated words are fixed by the MT rules without any table
    assert t["synth"]["family:mt"]["recall"] > 0.3 and t["synth"]["family:mt"]["exact"] > 0.3
    # precision first: nothing applied on clean prose or on the unspun chunks
    assert t["clean"]["smoke"]["applied"] == 0 and t["synth"]["family:none"]["clean_applied_per_10k"] == 0
    d = rep["configs"]["+detector"]
    assert d["status"] == "ok" or "off" in d["status"]  # n/a without shipped weights, never an error


def test_fast_check_path_never_imports_torch(tmp_path):
    """scripts/bench.py reports this too; here it is a contract: tables + rules stay torch-free."""
    import subprocess
    f = tmp_path / "a.txt"
    f.write_text("Rights teams warn about local weather change, officers stated stated.\n", encoding="utf-8")
    code = ("import sys; from cleaner.cli import main; rc = main(['check', '--fast', sys.argv[1]]); "
            "print('HEAVY', sorted(m for m in ('torch', 'transformers', 'pyarrow', 'textual') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(f)], capture_output=True, text=True, cwd=ROOT,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_tables_restore_classic_spinner_phrases_exactly():
    """End to end through the harness metric with the shipped tables (issue 2's required phrases)."""
    from cleaner import Cleaner
    orig = "Rights groups warn about climate change and forced labor, officials said last month."
    pairs = [("Rights teams", "Rights groups"), ("local weather change", "climate change"),
             ("compelled labor", "forced labor"), ("final month", "last month")]
    from spinlib.families import Rep, build
    spun, spans = build(orig, [Rep(orig.index(a), orig.index(a) + len(a), b, "dictionary") for b, a in pairs])
    assert spun == "Rights teams warn about local weather change and compelled labor, officials said final month."
    rec = {"spun": spun, "original": orig, "spans": spans}
    c = evaluate.score_record(rec, Cleaner(stages=("tables", "mt")).clean(spun))
    assert c["gold_exact"] == 4 and c["tok_correct"] == c["tok_changed"]
