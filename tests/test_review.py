"""`cleaner review`: decisions, resume, bulk, undo, apply + revert, plain prompt mode, batch logs.

Runs the real Cleaner (tables + rules) on the committed sample with the small fixed demo table,
so the proposals are known and do not move when the shipped tables grow.
"""

import gzip
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from cleaner import Cleaner, Edit, apply_edits
from cleaner.cli import build_parser, main as cli_main
from cleaner.review import Doc, ReviewError, Session, paragraph_span, run, sentence_span, sha256

from conftest import ROOT, SHARED, run_cli

DEMO = str(ROOT / "tests" / "fixtures" / "demo.tsv")
SAMPLE = ROOT / "samples" / "spun-article.txt"


def args_for(*argv):
    return build_parser().parse_args(["review", *argv])


def plain(*argv, keys="", cleaner=None):
    out = io.StringIO()
    rc = run(args_for(*argv), cleaner=cleaner, stdin=io.StringIO(keys), stdout=out)
    return rc, out.getvalue()


@pytest.fixture
def article(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "article.txt"
    shutil.copyfile(SAMPLE, p)
    return p


def session_for(path, *extra):
    from cleaner.review import build_session
    s, problems = build_session(args_for("--fast", "--tables", DEMO, *extra, str(path)))
    assert not problems
    return s


def test_plain_accept_reject_edit_quit_resume_apply_revert(article, tmp_path):
    orig = article.read_bytes()
    common = ("--fast", "--tables", DEMO, "--reviewer", "alice", str(article))
    # 1st sitting: accept, reject, edit, quit.
    rc, out = plain(*common, keys="y\nn\ne\nannounced\nq\n")
    assert rc == 0
    assert "[-local weather change-]{+climate change+}" in out
    assert "1 accepted, 1 edited, 1 rejected, 8 pending" in out
    assert article.read_bytes() == orig, "review alone must never write the file"
    log = [json.loads(x) for x in (tmp_path / "cleaner-review.jsonl").read_text().splitlines()]
    assert [(r["edit"]["before"], r["decision"], r["final"], r["user"]) for r in log] == [
        ("local weather change", "accept", "climate change", "alice"),
        ("Home", "reject", None, "alice"),
        ("stated", "edit", "announced", "alice")]
    # 2nd sitting resumes at the 4th edit, the first without a decision.
    rc, out = plain(*common, keys="y\nq\n")
    first = out.strip().splitlines()[0]
    assert first.startswith("[4/11]") and "local weather change" in first
    assert "2 accepted, 1 edited, 1 rejected, 7 pending" in out
    # Apply: exactly the accepted and edited changes reach the file.
    rc, out = plain(*common, "--apply")
    assert rc == 0 and "1 files changed" in out and "7 edits still pending" in out
    text = article.read_text()
    assert text.count("climate change") == 2 and "local weather change" not in text
    assert "the White Home announced in" in text          # rejected Home kept, edited stated
    assert text.count("stated") == 2 and "Rights teams" in text   # pending edits untouched
    audit = [json.loads(x) for x in (tmp_path / "cleaner-audit.jsonl").read_text().splitlines()]
    assert len(audit) == 1 and audit[0]["tool"] == "cleaner review" and audit[0]["user"] == "alice"
    assert audit[0]["path"] == str(article.resolve()) and audit[0]["sha256_after"] == sha256(article.read_bytes())
    decided = {(e["before"], e["applied"], e["meta"]["review"]["decision"]) for e in audit[0]["edits"]}
    assert decided == {("local weather change", True, "accept"), ("Home", False, "reject"),
                       ("stated", True, "edit")}
    # The rejection carries over to the rewritten file: a new review does not ask again.
    s = session_for(article)
    assert s.counts()["reject"] == 1 and s.items[s.first_pending()].edit.before != "Home"
    # `cleaner revert --log` undoes the review byte for byte.
    assert cli_main(["revert", "--log", str(tmp_path / "cleaner-audit.jsonl"), str(article)]) == 0
    assert article.read_bytes() == orig


def test_bulk_phrase_and_rule_and_undo(article, tmp_path):
    s = session_for(article)
    stated = next(it for it in s.items if it.edit.before == "stated")
    assert s.decide_all(stated, "phrase", "accept") == 3
    assert s.counts()["accept"] == 3
    home = next(it for it in s.items if it.edit.before == "Home")
    s.decide(home, "reject")
    # The current edit (even if decided) plus every pending one of the demo table.
    assert s.decide_all(home, "rule", "accept") == 7
    assert s.undo() is home                               # bulk undone as one
    assert s.counts() == {"pending": 7, "accept": 3, "reject": 1, "edit": 0}
    s.undo()
    s.undo()
    assert s.undo() is None
    assert s.counts()["pending"] == 11
    # Undo records are in the log, so a resumed session agrees.
    assert session_for(article).counts()["pending"] == 11


def test_resume_keeps_decider_and_time(article, tmp_path):
    s = session_for(article, "--reviewer", "bob")
    s.decide(s.items[0], "accept")
    t = s.items[0].time
    again = session_for(article, "--reviewer", "carol")
    assert (again.items[0].decision, again.items[0].user, again.items[0].time) == ("accept", "bob", t)


def test_filters(article):
    s = session_for(article, "--ambiguous")
    assert {s.items[i].edit.before for i in s.visible()} == {"stated"}   # score 0.895 is in the 0.5:0.9 band
    s = session_for(article, "--kind", "mt")
    assert [s.items[i].edit.source for i in s.visible()] == ["rule:duplicate-word"]
    s = session_for(article, "--min-score", "0.99")
    assert all(s.items[i].edit.score >= 0.99 for i in s.visible()) and 0 < len(s.visible()) < 11
    rc, out = plain("--fast", "--tables", DEMO, "--kind", "tortured", "article.txt")
    assert rc == 0 and "nothing to review" in out


def _hand_session(tmp_path, edits, text="The compelled labor camps."):
    doc = Doc(name="t", ident="t", text=text, sha256=sha256(text.encode()))
    return Session([doc], [edits], str(tmp_path / "d.jsonl"), "tester")


def test_overlapping_edits_cannot_both_be_accepted(tmp_path):
    a = Edit(4, 19, "compelled labor", "forced labor", score=0.9)
    b = Edit(4, 13, "compelled", "forced", score=0.6, applied=False)
    s = _hand_session(tmp_path, [a, b])
    s.decide(s.items[0], "accept")
    with pytest.raises(ReviewError, match="overlaps accepted edit"):
        s.decide(s.items[1], "accept")
    s.decide(s.items[1], "reject")
    assert apply_edits(s.docs[0].text, s.reviewed_edits(s.docs[0])) == "The forced labor camps."


def test_pick_candidate(tmp_path):
    e = Edit(4, 19, "compelled labor", "forced labor", score=0.7, applied=False, source="model:rewriter@1",
             candidates=[{"text": "forced labor", "score": 0.7}, {"text": "forced labour", "score": 0.2}])
    s = _hand_session(tmp_path, [e])
    with pytest.raises(ReviewError, match="no candidate 3"):
        s.pick(s.items[0], 2)
    s.pick(s.items[0], 1)
    it = s.items[0]
    assert (it.decision, it.final, it.candidate) == ("accept", "forced labour", 1)
    [rec] = s.reviewed_edits(s.docs[0])
    assert rec.after == "forced labour" and rec.meta["review"]["proposed"] == "forced labor"
    # The rewriter lists the original wording as a candidate too; picking it keeps the text.
    e2 = Edit(4, 19, "compelled labor", "forced labor", score=0.7, applied=False,
              candidates=[{"text": "forced labor", "score": 0.7}, {"text": "compelled labor", "score": 0.3}])
    s = Session(s.docs, [[e2]], str(tmp_path / "d2.jsonl"), "tester")
    s.pick(s.items[0], 1)
    assert s.items[0].decision == "reject"


def test_decision_log_errors(tmp_path):
    e = Edit(4, 19, "compelled labor", "forced labor")
    log = tmp_path / "d.jsonl"
    log.write_text('{"broken\n{"doc_ident": "t"}\n')
    with pytest.raises(ReviewError, match=r"d.jsonl:1: not a decision record"):
        _hand_session(tmp_path, [e])
    # A torn last line (crash mid-append) is ignored with a warning; earlier decisions stand.
    log.unlink()
    s = _hand_session(tmp_path, [e])
    s.decide(s.items[0], "accept")
    with open(s.log_path, "a") as f:
        f.write('{"doc_ident": "t", "sha')
    s2 = Session(s.docs, [[e]], s.log_path, "tester")
    assert s2.items[0].decision == "accept" and "incomplete last line" in s2.warnings[0]


def test_file_changed_after_reading_is_not_written(article):
    s = session_for(article)
    s.decide(s.items[0], "accept")
    article.write_text("someone else edited this\n")
    changed, problems = s.apply_files("audit.jsonl")
    assert changed == 0 and "changed on disk" in problems[0]
    assert article.read_text() == "someone else edited this\n"


def test_bom_and_crlf_survive_apply(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "w.txt"
    raw = b"\xef\xbb\xbfRights teams warn.\r\nThe local weather change is real.\r\n"
    p.write_bytes(raw)
    rc, _ = plain("--fast", "--tables", DEMO, "w.txt", keys="y\ny\n")
    rc, _ = plain("--fast", "--tables", DEMO, "w.txt", "--apply")
    assert rc == 0
    assert p.read_bytes() == b"\xef\xbb\xbfRights groups warn.\r\nThe climate change is real.\r\n"


def test_bad_input_is_reported(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.txt").write_bytes(b"r\xe9sum\xe9 local weather change\n")
    rc, out = plain("--fast", "--tables", DEMO, "bad.txt", "missing.txt")
    assert rc == 1 and "invalid UTF-8" in out and "missing.txt" in out
    assert (tmp_path / "bad.txt").read_bytes() == b"r\xe9sum\xe9 local weather change\n"
    rc, out = plain("--fast", "-")
    assert rc == 2 and "standard input" in out


def test_context_spans():
    text = "First para.\n\nOne sentence here. The local weather change bites! Next one.\n\nLast."
    s = text.index("local")
    e = s + len("local weather change")
    assert text[slice(*sentence_span(text, s, e))] == "The local weather change bites!"
    assert text[slice(*paragraph_span(text, s, e))] == "One sentence here. The local weather change bites! Next one."


def test_cli_wiring_auto_plain_when_not_a_tty(tmp_path):
    shutil.copyfile(SAMPLE, tmp_path / "a.txt")
    r = run_cli("review", "--fast", "--tables", DEMO, "a.txt", stdin=b"n\nq\n", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "[1/11]" in out and "0 accepted, 0 edited, 1 rejected, 10 pending" in out
    assert json.loads((tmp_path / "cleaner-review.jsonl").read_text())["decision"] == "reject"


# -- batch edit logs ---------------------------------------------------------------------------

def _corpus(tmp_path, opener=open, name="corpus.jsonl", zero_based=False):
    paras = [p for p in SAMPLE.read_text().split("\n\n") if p.strip()]
    recs = [{"id": f"d{i}", "text": t, "lang": "en"} for i, t in enumerate(paras)] + [{"id": "clean", "text": "Nothing here."}]
    src = tmp_path / name
    with opener(src, "wt", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    c = Cleaner(stages=("tables", "mt"), tables=[DEMO])
    with open(tmp_path / "edits.jsonl", "w") as f:
        for n, r in enumerate(recs, 1):
            res = c.clean(r["text"])
            if res.edits:
                f.write(json.dumps({"doc_id": r["id"], "source": str(src), "line": n - zero_based,
                                    "spin_score": res.spin_score, "edits": [e.to_dict() for e in res.edits]}) + "\n")
    return src, recs


def _zst_open(path, mode, encoding):
    zstandard = pytest.importorskip("zstandard")
    return zstandard.open(path, mode, encoding=encoding)


@pytest.mark.parametrize("opener,name,zero", [(open, "corpus.jsonl", False), (gzip.open, "corpus.jsonl.gz", True),
                                              (_zst_open, "corpus.jsonl.zst", False)])
def test_batch_log_review_and_apply(tmp_path, monkeypatch, opener, name, zero):
    monkeypatch.chdir(tmp_path)
    src, recs = _corpus(tmp_path, opener, name, zero)
    common = ("--log", "edits.jsonl", "--reviewer", "dana", str(src))
    rc, out = plain(*common, keys="y\nn\nq\n")
    assert rc == 0 and "[1/11] d0:1:16" in out and (tmp_path / "edits.decisions.jsonl").exists()
    rc, out = plain(*common, "--apply")
    assert rc == 0 and "1 documents changed" in out
    dst = tmp_path / name.replace("corpus.", "corpus.reviewed.")
    with opener(dst, "rt", encoding="utf-8") as f:
        got = [json.loads(x) for x in f]
    assert got[0]["text"].startswith("Lawmakers back climate change invoice")
    assert got[1] == recs[1] and got[1:] == recs[1:]      # rejected Home, untouched docs, other fields kept
    [audit] = [json.loads(x) for x in (tmp_path / "cleaner-audit.jsonl").read_text().splitlines()]
    assert (audit["doc_id"], audit["user"], audit["output"]) == ("d0", "dana", str(dst))


def test_batch_log_parquet(tmp_path, monkeypatch):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa
    monkeypatch.chdir(tmp_path)
    src, recs = _corpus(tmp_path)
    pq.write_table(pa.Table.from_pylist(recs), tmp_path / "corpus.parquet")
    log = (tmp_path / "edits.jsonl").read_text().replace(str(src), "corpus.parquet")
    (tmp_path / "edits.jsonl").write_text(log)
    rc, out = plain("--log", "edits.jsonl", keys="n\nA\nq\n")
    assert rc == 0
    rc, out = plain("--log", "edits.jsonl", "--apply", "--output", "clean.parquet")
    got = pq.read_table(tmp_path / "clean.parquet").to_pylist()
    assert got[0]["text"] == recs[0]["text"]                       # its only edit was rejected
    assert "the White House said in" in got[1]["text"] and got[1]["id"] == "d1"
    assert got[-1]["text"] == recs[-1]["text"] and len(got) == len(recs)


def test_batch_log_that_does_not_match_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    src, recs = _corpus(tmp_path)
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps({"text": "unrelated " * 30}) + "\n" for _ in recs))
    rc, out = plain("--log", "edits.jsonl", str(other), keys="q\n")
    assert rc == 1 and "edits do not match line 1" in out


# -- the acceptance scenario on the real seed article ------------------------------------

def _spun_article():
    """Seed 002 (the real spun article) when ../shared is present, else the committed sample."""
    seeds = SHARED / "seeds"
    return next(seeds.glob("002_*.txt")) if seeds.is_dir() else SAMPLE


def test_seed_002_end_to_end(tmp_path, monkeypatch, fast_cleaner):
    """Accept some, reject some, edit one, quit, resume (another reviewer), apply, revert;
    real Cleaner with the shipped tables, on a copy of seed 002."""
    from cleaner.tables import shipped_tables
    if not shipped_tables():
        pytest.skip("no shipped phrase tables in models/tables")
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "002.txt"
    shutil.copyfile(_spun_article(), p)
    orig_bytes = p.read_bytes()
    orig = p.read_text(encoding="utf-8")
    items = session_for_default(p, fast_cleaner).items
    assert len(items) >= 8, "seed 002 should get plenty of proposals from the shipped tables"
    # Planned answers for the first six edits; a flag without a replacement cannot be accepted.
    plan = ["y", "n", "y", "e", "n", "y"]
    keys = [k if k != "y" or it.proposes else "n" for k, it in zip(plan, items)]
    first = "".join(k + "\n" + ("hand-made\n" if k == "e" else "") for k in keys[:4])
    rc, out = plain("--fast", "--reviewer", "erin", "002.txt", keys=first + "q\n", cleaner=fast_cleaner)
    assert rc == 0 and f"{keys[:4].count('y')} accepted, 1 edited, {keys[:4].count('n')} rejected" in out
    assert p.read_bytes() == orig_bytes
    rest = "".join(k + "\n" for k in keys[4:]) + "q\n"
    rc, out = plain("--fast", "--reviewer", "frank", "002.txt", keys=rest, cleaner=fast_cleaner)
    assert rc == 0 and re.search(r"^\[(\d+)/\d+\]", out, re.M).group(1) == "5"   # resumed at the fifth edit
    s = session_for_default(p, fast_cleaner)
    assert [it.decision for it in s.items[:6]] == [{"y": "accept", "n": "reject", "e": "edit"}[k] for k in keys]
    accepted = [it for it in s.items if it.accepted]
    rc, out = plain("--fast", "002.txt", "--apply", cleaner=fast_cleaner)
    assert rc == 0 and "1 files changed" in out
    expect = apply_edits(orig, [Edit(it.edit.start, it.edit.end, it.edit.before, it.final) for it in accepted])
    assert p.read_text(encoding="utf-8") == expect and "hand-made" in expect
    [audit] = [json.loads(x) for x in Path("cleaner-audit.jsonl").read_text().splitlines()]
    who = [(e["start"], e["applied"], e["meta"]["review"]["decision"], e["meta"]["review"]["user"])
           for e in sorted(audit["edits"], key=lambda e: e["start"])]
    assert who == [(it.edit.start, it.accepted, it.decision, "erin" if n < 4 else "frank")
                   for n, it in enumerate(s.items[:6])]
    assert cli_main(["revert", "--log", "cleaner-audit.jsonl", "002.txt"]) == 0
    assert p.read_bytes() == orig_bytes


def session_for_default(path, cleaner=None):
    from cleaner.review import build_session
    return build_session(args_for("--fast", str(path)), cleaner)[0]


def test_flag_without_replacement(tmp_path):
    """Detector-only spans and proximity hits propose nothing: accepting is refused, edit works."""
    flag = Edit(4, 19, "compelled labor", "compelled labor", source="model:detector@1", score=0.7, applied=False)
    s = _hand_session(tmp_path, [flag])
    assert not s.items[0].proposes
    with pytest.raises(ReviewError, match="no replacement proposed"):
        s.decide(s.items[0], "accept")
    assert s.decide_all(s.items[0], "rule", "accept") == 0 and s.counts()["pending"] == 1
    s.decide(s.items[0], "edit", "forced labor")
    assert apply_edits(s.docs[0].text, s.reviewed_edits(s.docs[0])) == "The forced labor camps."


def test_missing_table_is_a_clear_error(article):
    rc, out = plain("--fast", "--tables", "no-such-table.tsv", "article.txt")
    assert rc == 2 and "no-such-table.tsv" in out and "not found" in out


def test_review_of_a_real_batch_run(tmp_path, monkeypatch):
    """`cleaner clean --edit-log` then `cleaner review --log`: the two commands agree on the format."""
    monkeypatch.chdir(tmp_path)
    paras = [t for t in SAMPLE.read_text().split("\n\n") if t.strip()]
    Path("corpus.jsonl").write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(paras)))
    assert cli_main(["clean", "--fast", "--tables", DEMO, "-o", "out.jsonl", "--edit-log", "edits.jsonl",
                     "--progress", "none", "corpus.jsonl"]) in (0, 1)
    rc, out = plain("--log", "edits.jsonl", "corpus.jsonl", "--reviewer", "gus", keys="n\nA\nq\n")
    assert rc == 0 and "[1/11] d0:1:16" in out
    rc, out = plain("--log", "edits.jsonl", "corpus.jsonl", "--apply")
    assert rc == 0
    got = [json.loads(x)["text"] for x in Path("corpus.reviewed.jsonl").read_text().splitlines()]
    assert got[0] == paras[0]                                   # its one edit was rejected
    assert "the White House said in" in got[1] and "Rights groups" in got[2]
    assert "including including" in got[4]                      # another rule: still pending, untouched


def test_folder_skip_file_and_apply_both(article, tmp_path):
    """A folder of two files: skip moves to the next file; --apply writes each and logs each."""
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.move(article, docs / "a.txt")
    shutil.copyfile(SAMPLE, docs / "b.txt")
    rc, out = plain("--fast", "--tables", DEMO, "docs", keys="y\ns\nn\ny\nq\n")
    assert rc == 0 and "[12/22] docs/b.txt:1:16" in out
    s = session_for(docs)
    assert [(it.doc.name[-5:], it.edit.before, it.decision) for it in s.items if it.decision != "pending"] == [
        ("a.txt", "local weather change", "accept"), ("b.txt", "local weather change", "reject"),
        ("b.txt", "Home", "accept")]
    rc, out = plain("--fast", "--tables", DEMO, "docs", "--apply")
    assert rc == 0 and "2 files changed" in out
    assert (docs / "a.txt").read_text().startswith("Lawmakers back climate change")
    b = (docs / "b.txt").read_text()
    assert "the White House stated" in b and b.startswith("Lawmakers back local weather change")
    audit = Path("cleaner-audit.jsonl").read_text().splitlines()
    assert [json.loads(x)["path"] for x in audit] == [str(docs / "a.txt"), str(docs / "b.txt")]
    for name in ("a.txt", "b.txt"):
        assert cli_main(["revert", "--log", "cleaner-audit.jsonl", str(docs / name)]) == 0
        assert (docs / name).read_bytes() == SAMPLE.read_bytes()


def test_unsaved_decision_is_not_kept(tmp_path):
    """If the decision log cannot be written, the decision is refused, not silently kept in memory."""
    e = Edit(4, 19, "compelled labor", "forced labor")
    s = _hand_session(tmp_path, [e])
    s.decide(s.items[0], "accept")
    s.log_path = str(tmp_path / "no-such-dir" / "d.jsonl")
    with pytest.raises(ReviewError, match="cannot save the decision"):
        s.undo()
    assert s.items[0].decision == "accept"
    with pytest.raises(ReviewError, match="cannot save the decision"):
        s.decide(s.items[0], "reject")
    assert (s.items[0].decision, s.items[0].final) == ("accept", "forced labor")
