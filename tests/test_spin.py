"""Spinner simulator (scripts/spinlib): record contract, determinism, each family, fixed splits."""

import json
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from spinlib import VERSION, rules  # noqa: E402
from spinlib.families import Spinner, build, Rep, chunks  # noqa: E402

NEWS = ("The White House said on Monday that the bill, one of several pieces of legislation on climate "
        "change, was expected to pass this year. Millions of workers were affected, officials said.")
PPS = {"artificial intelligence": ["counterfeit consciousness"], "deep learning": ["profound learning"]}


def check_record(original, spun, spans):
    """docs/architecture.md: both offsets exact, and outside the spans the texts are identical."""
    rebuilt, pos = [], 0
    for s in spans:
        assert spun[s["start"]:s["end"]] == s["before"]
        assert original[s["orig_start"]:s["orig_end"]] == s["after"]
        assert s["before"] != s["after"]
        rebuilt += [spun[pos:s["start"]], s["after"]]
        pos = s["end"]
    rebuilt.append(spun[pos:])
    assert "".join(rebuilt) == original


@pytest.fixture(scope="module")
def thesaurus():
    pytest.importorskip("lemminflect", reason="thesaurus family needs lemminflect")
    from spinlib.thesaurus import MYTHES, Thesaurus, load_mythes
    if not MYTHES.exists():
        pytest.skip("needs apt-get install mythes-en-us")
    return Thesaurus(load_mythes())


def test_build_keeps_offsets_of_both_texts():
    text = "one two three four"
    spun, spans = build(text, [Rep(4, 7, "TWO-TWO", "x"), Rep(14, 18, "4", "x"), Rep(5, 9, "overlap", "x")])
    assert spun == "one TWO-TWO three 4"
    check_record(text, spun, spans)
    assert [s["after"] for s in spans] == ["two", "four"]


def test_dictionary_family_uses_its_own_rules_and_damages_proper_nouns_sometimes():
    sp = Spinner()
    seen, proper = set(), 0
    for seed in range(40):
        spun, spans = sp.spin(NEWS, "dictionary", 1.0, random.Random(seed))
        check_record(NEWS, spun, spans)
        for s in spans:
            seen.add((s["after"].lower(), s["before"].lower()))
        proper += "White Home" in spun
    assert ("said", "stated") in seen or ("said", "mentioned") in seen
    assert ("bill", "invoice") in seen and ("one of", "considered one of") in seen
    assert ("climate change", "local weather change") in seen and ("were", "had been") in seen
    assert 0 < proper < 40  # occasional, not systematic
    dictionary = rules.parse(rules.DICTIONARY)
    assert all(b in dictionary.get(a, []) or a == "white house" for a, b in seen)


def test_none_family_and_determinism():
    sp = Spinner()
    assert sp.spin(NEWS, "none", 1.0, random.Random(1)) == (NEWS, [])
    a = sp.spin(NEWS, "dictionary", 0.5, random.Random("13:test:doc"))
    b = sp.spin(NEWS, "dictionary", 0.5, random.Random("13:test:doc"))
    assert a == b


def test_tortured_family_replaces_pps_phrases_with_case():
    sp = Spinner(pps=PPS)
    text = "Artificial intelligence and deep learning are used; deep-learning is not a match."
    spun, spans = sp.spin(text, "tortured", 1.0, random.Random(0))
    check_record(text, spun, spans)
    assert spun.startswith("Counterfeit consciousness and profound learning")
    assert len(spans) == 2


def test_mt_family_duplicates_and_calques():
    sp = Spinner()
    text = "In order to take part in the talks, the minister will take into account the views of others."
    fams = set()
    for seed in range(20):
        spun, spans = sp.spin(text, "mt", 0.9, random.Random(seed))
        check_record(text, spun, spans)
        assert spans
        for s in spans:
            w = s["after"]
            fams.add("dup" if s["before"].lower() == f"{w} {w}".lower() else "calque")
    assert fams == {"dup", "calque"}


def test_thesaurus_family_inflects_real_neighbours(thesaurus):
    sp = Spinner(thesaurus)
    text = "The committees discussed the proposals for several years and finally approved the largest projects."
    changed = 0
    for seed in range(10):
        spun, spans = sp.spin(text, "thesaurus", 0.9, random.Random(seed))
        check_record(text, spun, spans)
        changed += len(spans)
        for s in spans:
            if s["after"] in ("committees", "proposals", "years", "projects") and " " not in s["before"]:
                assert s["before"].endswith("s"), s  # plural stays plural
    assert changed >= 10


def test_thesaurus_collocations_make_unseen_tortured_terms(thesaurus):
    sp = Spinner(thesaurus)
    text = "Artificial intelligence helps with climate research and economic growth in poor regions."
    found = []
    for seed in range(10):
        spun, spans = sp.spin(text, "tortured", 1.0, random.Random(seed))
        check_record(text, spun, spans)
        found += [s for s in spans if " " in s["after"]]
    assert found and all(len(s["before"].split()) == 2 for s in found)


def test_tortured_source_tells_list_phrases_from_collocations(thesaurus):
    from spinlib.data import tortured_source
    sp = Spinner(thesaurus, pps={"deep learning": ["profound learning"]})
    text = "Deep learning helps with climate research and economic growth in poor regions."
    seen = {}
    for seed in range(10):
        _, spans = sp.spin(text, "tortured", 1.0, random.Random(seed))
        for s in spans:
            seen.setdefault(tortured_source(s, sp.pps), set()).add(s["after"].lower())
    assert seen["pps"] == {"deep learning"}
    assert seen["collocation"] and "deep learning" not in seen["collocation"]


def test_chunks_are_short_and_within_paragraphs():
    text = "First sentence is here and long enough to count. Second one follows it closely now.\nA new paragraph starts here with words. It has two sentences in total here."
    cs = chunks(text, random.Random(3))
    assert cs and all("\n" not in c and len(c) <= 600 for c in cs)


def test_split_manifests_are_consistent():
    from spinlib.data import SPLITS_JSON, PPS_JSON, doc_split, pps_split_of
    docs = json.loads(SPLITS_JSON.read_text())
    for split in ("dev", "test"):
        for ids in docs[split].values():
            assert all(doc_split(i) == split for i in ids)
    pps = json.loads(PPS_JSON.read_text())
    assert not set(pps["dev"]) & set(pps["test"])
    assert all(pps_split_of(p) == "test" for p in pps["test"]) and all(pps_split_of(p) == "dev" for p in pps["dev"])
    assert pps["generator"].startswith("spin-") and VERSION.startswith("spin-")


def test_pps_split_keeps_all_variants_of_an_expected_phrase_together():
    from spinlib.data import pps_map
    rows = [{"tortured": t, "norm": "artificial intelligence", "not": False} for t in
            ("counterfeit consciousness", "fake intelligence", "man-made brainpower")]
    from spinlib.data import load_pps_split
    split = load_pps_split().get("artificial intelligence", "train")
    maps = {s: pps_map(s, rows) for s in ("train", "dev", "test")}
    assert len(maps[split]["artificial intelligence"]) == 3
    assert all("artificial intelligence" not in m for s, m in maps.items() if s != split)


def test_committed_smoke_records_follow_the_contract():
    path = ROOT / "scripts" / "data" / "smoke" / "synth.jsonl"
    recs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert {r["family"] for r in recs} == {"dictionary", "thesaurus", "tortured", "mt", "none"}
    for r in recs:
        check_record(r["original"], r["spun"], r["spans"])
        assert bool(r["spans"]) == (r["family"] != "none")
