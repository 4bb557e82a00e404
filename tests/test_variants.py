"""cleaner.variants: unlisted renderings of listed tortured terms."""

import pickle
import re

import pytest

from cleaner import Cleaner
from cleaner.config import Config
from cleaner.matcher import normalise
from cleaner.tables import parse_table, tables_dir
from cleaner.variants import (COMMON_FILE, PRIOR, TABLE, VETO_FILE, VariantMatcher, load_veto, stand_ins,
                              validate_list)

TABLE_TEXT = """\
# table: tortured
# kind: tortured
cloud examination\tspectral analysis\t0.99
counterfeit consciousness\tartificial intelligence\t0.99
ghastly grouping\tspectral clustering\t0.99
ghostly bunching\tspectral clustering\t0.99
haze figuring\tfog computing\t0.99
mist figuring\tcloud computing\t0.99
phantom examination\tspectral analysis\t0.99
profound learning\tdeep learning\t0.99\tand=neural
shrouded layer\thidden layer\t0.99
the irregular woodland\trandom forest\t0.99
vapour calculation\tcloud computing\t0.99
vapour processing\tfog computing\t0.99
"""


def _matcher(veto=()):
    table, problems = parse_table(TABLE_TEXT, "tortured")
    assert not problems
    return VariantMatcher(table.entries, veto), table.entries


def _find(vm, text):
    return [(text[h.start:h.end], h.entry.canonical, h.entry.prior, h.entry.report_only) for h in vm.find(text, normalise(text))]


def test_stand_ins_align_same_length_unguarded_entries():
    _, entries = _matcher()
    subs, terms, written = stand_ins(entries)
    assert subs["spectral"] == {"cloud": 1, "ghastly": 1, "ghostly": 1, "phantom": 1}
    assert subs["clustering"] == {"grouping": 1, "bunching": 1}
    assert "deep" not in subs                      # guarded entry (and=neural): not a source
    assert "random" not in subs                    # 3 words against 2: no alignment
    assert ("spectral", "clustering") in terms and written[("spectral", "clustering")] == "spectral clustering"


def test_unlisted_combination_is_found_with_its_term():
    vm, _ = _matcher()
    # "phantom" is listed for "spectral" only in "phantom examination"; "bunching" only with "ghostly"
    assert _find(vm, "We use phantom bunching on graphs.") == [("phantom bunching", "spectral clustering", PRIOR, False)]
    assert _find(vm, "We use Spectral Bunching on graphs.") == [("Spectral Bunching", "spectral clustering", PRIOR, False)]


@pytest.mark.parametrize("text", [
    "We use ghostly bunching on graphs.",             # listed: the table decides
    "We use spectral clustering on graphs.",          # the term itself
    "We use profound learning on graphs.",            # listed with a guard that fails here: no bypass
    "We use phantom. Bunching is next.",              # not one phrase
    "Ghost stories about bunching.",                  # not a listed stand-in
    "We use spectral-bunching here.",                 # part of a hyphenated word
])
def test_negatives(text):
    vm, _ = _matcher()
    assert _find(vm, text) == []


def test_a_stand_in_from_the_fields_vocabulary_is_not_enough():
    vm, _ = _matcher()
    # "cloud" stands in for "spectral" once, but it is a word of listed terms (cloud computing):
    # "cloud clustering" may be a real term. "phantom" is not: "phantom clustering" is found.
    assert _find(vm, "We use cloud clustering here.") == []
    assert _find(vm, "We use phantom clustering here.") == [("phantom clustering", "spectral clustering", PRIOR, False)]
    assert _find(vm, "Haze computing is new.") == [("Haze computing", "fog computing", PRIOR, False)]


def test_two_terms_fitting_equally_are_reported_only():
    vm, _ = _matcher()
    # "vapour" stands in for both "cloud" and "fog", "figuring" for "computing" in both terms
    ((before, canonical, prior, report_only),) = _find(vm, "Vapour figuring is new.")
    assert (before, prior, report_only) == ("Vapour figuring", PRIOR, True)
    assert canonical in ("cloud computing", "fog computing")
    # "mist" only for cloud: no tie
    assert _find(vm, "Mist calculation is new.") == [("Mist calculation", "cloud computing", PRIOR, False)]


def test_veto_pair_blocks_a_variant():
    vm, _ = _matcher(veto=["phantom bunching"])
    assert _find(vm, "We use phantom bunching on graphs.") == []


def test_pickles_without_the_automaton():
    vm, _ = _matcher()
    again = pickle.loads(pickle.dumps(vm))
    text = "We use phantom bunching on graphs."
    assert _find(again, text) == _find(vm, text)


def test_pipeline_applies_only_in_a_spun_document():
    c = Cleaner(stages=("tables", "mt"))
    alone = c.clean("The method relies on eccentric woodland classifiers trained on the samples.")
    (e,) = [e for e in alone.edits if e.source.startswith(f"table:{TABLE}:")]
    assert (e.before, e.after, e.applied) == ("eccentric woodland", "random forest", False)
    spun = c.clean("The method relies on eccentric woodland classifiers and counterfeit consciousness, "
                   "with profound learning and a convolutional neural organization.")
    (e,) = [e for e in spun.edits if e.source.startswith(f"table:{TABLE}:")]
    assert (e.before, e.after, e.applied) == ("eccentric woodland", "random forest", True)
    assert "unlisted variant of the listed term 'random forest'" in e.reason
    assert "random forest classifiers" in spun.text


def test_config_switch_turns_variants_off():
    c = Cleaner(Config(variants=False), stages=("tables", "mt"))
    spun = c.clean("The method relies on eccentric woodland classifiers and counterfeit consciousness.")
    assert not [e for e in spun.edits if e.source.startswith(f"table:{TABLE}:")]


def test_shipped_veto_list_format():
    path = tables_dir() / VETO_FILE
    assert validate_list(path, 2) == []
    assert "world trade" in load_veto(tables_dir())


def test_validate_list_catches(tmp_path):
    p = tmp_path / "v.txt"
    p.write_text("# header\nb c\na b\nA b\nx\n", encoding="utf-8")
    problems = validate_list(p, 2)
    assert any("'A b'" in x for x in problems) and any("'x'" in x for x in problems)
    assert any("sorted" in x for x in problems)


def test_spun_news_without_listed_tortured_phrases_only_reports():
    c = Cleaner(stages=("tables", "mt"))
    r = c.clean("Rights teams said local weather change and compelled labor were discussed, and the "
                "eccentric woodland near the realm was cleared.")
    assert r.spin_score > 0.5
    (e,) = [e for e in r.edits if e.source.startswith(f"table:{TABLE}:")]
    assert not e.applied and "no listed tortured phrase in the document" in e.reason


def test_shipped_everyday_word_list_format():
    path = tables_dir() / COMMON_FILE
    assert validate_list(path, 1) == []
    lines = load_veto(tables_dir(), COMMON_FILE)
    assert {"reason", "quality"} <= set(lines) and "bunching" not in lines


def test_everyday_stand_ins_are_not_odd():
    vm, entries = _matcher()
    everyday = VariantMatcher(entries, common=["phantom"])
    assert _find(vm, "We use phantom clustering here.") and not _find(everyday, "We use phantom clustering here.")


class WordProbs:
    """A detector stand-in: fixed probabilities for some words, 0.01 for the rest, doc score 0.1."""
    version = "test"

    def __init__(self, probs):
        self.probs = probs

    def detect_batch(self, texts, skips):
        from cleaner.detector import DetectorOutput
        return [DetectorOutput(words=[(m.start(), m.end(), self.probs.get(m.group().lower(), 0.01))
                                      for m in re.finditer(r"\w+", t)], doc_score=0.1) for t in texts]


@pytest.mark.parametrize("probs, applied", [
    ({"eccentric": 0.7, "woodland": 0.6}, True),     # every replaced word reads as spun
    ({"eccentric": 0.7, "woodland": 0.3}, False),    # one does not: reported
    ({}, False),
])
def test_detector_agreement_applies_a_variant_without_listed_phrases(probs, applied):
    c = Cleaner(stages=("tables", "mt", "detector"))
    c._models["detector"] = WordProbs(probs)
    r = c.clean("The method relies on eccentric woodland classifiers trained on the samples.")
    (e,) = [e for e in r.edits if e.source.startswith(f"table:{TABLE}:")]
    assert (e.before, e.after, e.applied) == ("eccentric woodland", "random forest", applied)
    assert ("the detector reads every replaced word as spun" in e.reason) == applied


@pytest.mark.parametrize("probs, applied", [
    ({"mind": 0.8}, True),   # the detector reads the replaced word as spun: restored
    ({"mind": 0.3}, None),   # it does not: no edit, not even a report
    ({"tumor": 0.9}, None),  # only the replaced words count
])
def test_variant_of_everyday_words_needs_the_detector(probs, applied):
    """"mind tumor" (unlisted here) renders "brain tumor" with an everyday stand-in, so the rules
    alone never report it; a detector that reads "mind" as spun lets it through."""
    text = "The results of mind tumor are shown in Table 2."
    cfg = Config(exclude_entries=["mind tumor"])
    assert Cleaner(stages=("tables", "mt"), config=cfg).clean(text).edits == []
    c = Cleaner(stages=("tables", "mt", "detector"), config=cfg)
    c._models["detector"] = WordProbs(probs)
    edits = [(e.before, e.after, e.applied) for e in c.clean(text).edits if e.source.startswith(f"table:{TABLE}:")]
    assert edits == ([] if applied is None else [("mind tumor", "brain tumor", applied)])


def test_detector_does_not_lift_the_veto():
    """"sensory system" is ordinary English (a veto pair): however spun the detector reads "sensory"
    (in spun news it often is, for "visual"), it is not a rendering of "nervous system"."""
    c = Cleaner(stages=("tables", "mt", "detector"))
    c._models["detector"] = WordProbs({"sensory": 0.95, "system": 0.95})
    r = c.clean("The viewer learns to associate sensory system cues with tangible objects.")
    assert not [e for e in r.edits if e.source.startswith(f"table:{TABLE}:")]


@pytest.mark.parametrize("text, found", [
    ("We use 'phantom clustering' on graphs.", "phantom clustering"),
    ("The phantom clustering's output is shown.", "phantom clustering"),
    ("A phantom-clustering step.", None),
])
def test_quotes_and_possessives(text, found):
    vm, _ = _matcher()
    hits = _find(vm, text)
    assert (hits[0][0] if hits else None) == found


def test_missing_word_lists_turn_the_rules_off_with_a_notice(tmp_path, monkeypatch):
    import shutil
    (tmp_path / "tables").mkdir()
    shutil.copy(tables_dir() / "tortured.tsv", tmp_path / "tables" / "tortured.tsv")
    monkeypatch.setenv("CLEANER_MODELS", str(tmp_path))
    monkeypatch.setenv("CLEANER_CACHE_DIR", "off")
    c = Cleaner(stages=("tables", "mt"), tables=["tortured"])
    assert c.variants is None
    assert any("variant rules off" in n and VETO_FILE in n for n in c.notices)


def test_canonical_spelling_keeps_acronyms_only():
    table, _ = parse_table("# table: tortured\n# kind: tortured\n"
                           "atomic DNA\tnuclear DNA\t0.99\nprofound Neural\tdeep Neural\t0.99\n"
                           "savvy Transportation System\tSmart Transportation System\t0.99\n", "tortured")
    _, _, written = stand_ins(table.entries)
    assert written[("nuclear", "dna")] == "nuclear DNA"
    assert written[("deep", "neural")] == "deep neural"
    assert written[("smart", "transportation", "system")] == "smart transportation system"
