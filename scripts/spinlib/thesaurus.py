"""A SpinBot-like thesaurus built from Debian's `mythes-en-us` (OpenOffice thesaurus, WordNet-based).

Install: `apt-get update && apt-get install -y mythes-en-us wordnet-base`.
Inflection: `lemminflect` (pip), so "years" -> "twelvemonths", "took" -> "accepted".
"""

from __future__ import annotations

import re
from pathlib import Path

MYTHES = Path("/usr/share/mythes/th_en_US_v2.dat")
UPOS = {"noun": "NOUN", "verb": "VERB", "adj": "ADJ", "adv": "ADV"}
SKIP_LEMMAS = set("""be have do get go make can will would should could may might must shall
not no yes so such very also more most less least much many few other same own only just
then than there here now when where why how what which who whom whose that this these those
one two three four five six seven eight nine ten first second new old mr mrs ms""".split())
_WORD = re.compile(r"^[a-z][a-z\-]*[a-z]$")


class ThesaurusMissing(RuntimeError):
    pass


def load_mythes(path: Path | str = MYTHES) -> dict[str, list[tuple[str, list[str]]]]:
    """head -> [(UPOS, [synonyms...]), ...] in the file's sense order (most common first)."""
    p = Path(path)
    if not p.is_file():
        raise ThesaurusMissing(f"{p} not found: install the thesaurus with "
                               "`apt-get update && apt-get install -y mythes-en-us wordnet-base`")
    out: dict[str, list[tuple[str, list[str]]]] = {}
    with open(p, encoding="utf-8", errors="replace") as f:
        f.readline()  # encoding line
        head, n = None, 0
        for line in f:
            line = line.rstrip("\n")
            if n == 0:
                head, _, cnt = line.partition("|")
                n = int(cnt or 0)
                head = head.lower()
                continue
            n -= 1
            parts = line.split("|")
            pos = UPOS.get(parts[0].strip("()"))
            if pos is None:
                continue
            # "(generic term)" and "(antonym)" are not substitutes; "(similar term)" is, for adjectives.
            syns = [s.replace(" (similar term)", "") for s in parts[1:]
                    if "(" not in s or s.endswith("(similar term)")]
            syns = [s for s in syns if s.lower() != head and s.isascii() and not any(c.isdigit() for c in s)]
            if syns:
                out.setdefault(head, []).append((pos, syns))
    return out


class Thesaurus:
    """Synonym choice with re-inflection. `freq` (word -> count) keeps the picks to words that occur
    in real text, as spinner dictionaries do, while leaving their blind word-sense errors."""

    def __init__(self, entries: dict, freq: dict[str, int] | None = None, min_freq: int = 3):
        import lemminflect  # noqa: F401  (fail early with a clear ImportError)
        self.entries = entries
        self.freq = freq or {}
        self.min_freq = min_freq
        self.phrases = {h for h in entries if " " in h and h.count(" ") <= 2}

    def _ok(self, syn: str) -> bool:
        if not self.freq:
            return True
        return all(self.freq.get(w.lower(), 0) >= self.min_freq for w in syn.split())

    def candidates(self, lemma: str, upos: str, senses: int = 2) -> list[str]:
        out: list[str] = []
        for pos, syns in self.entries.get(lemma, [])[: senses * 3]:
            if pos != upos:
                continue
            out.extend(s for s in syns if self._ok(s) and s not in out)
            senses -= 1
            if senses == 0:
                break
        return out

    def analyse(self, word: str, prev: str = "") -> list[tuple[str, str, str]]:
        """(lemma, UPOS, Penn tag) readings of a lower-case word, most plausible first."""
        from lemminflect import getAllInflections, getAllLemmas
        if not _WORD.match(word):
            return []
        readings = []
        for upos, lemmas in getAllLemmas(word).items():
            if upos not in ("NOUN", "VERB", "ADJ", "ADV"):
                continue
            for lemma in lemmas:
                if lemma in SKIP_LEMMAS or lemma not in self.entries:
                    continue
                tags = [t for t, forms in getAllInflections(lemma, upos).items() if word in forms]
                if upos == "ADV":
                    tags = ["RB"]
                if not tags:
                    continue
                if word == lemma:
                    tags = [{"NOUN": "NN", "VERB": "VB", "ADJ": "JJ"}.get(upos, tags[0])]
                if "VBD" in tags and "VBN" in tags:
                    tags = ["VBN" if prev in ("have", "has", "had", "been", "be", "was", "were", "is", "are", "being") else "VBD"]
                readings.append((lemma, upos, tags[0]))
        # sense order in the thesaurus = frequency order: the reading whose lemma lists this POS first wins
        def rank(r):
            poss = [p for p, _ in self.entries.get(r[0], [])]
            return poss.index(r[1]) if r[1] in poss else 99
        return sorted(readings, key=rank)

    @staticmethod
    def inflect(phrase: str, upos: str, tag: str) -> str:
        """Inflect the head of a synonym: last word of a noun phrase, first word of a verb phrase."""
        from lemminflect import getInflection
        words = phrase.split()
        if tag in ("NN", "VB", "JJ", "RB"):
            return phrase
        i = 0 if upos == "VERB" else len(words) - 1
        if tag == "NNS" and words[i].endswith("s") and not words[i].endswith("ss"):
            return phrase  # already plural ("terms"), lemminflect would say "termses"
        forms = getInflection(words[i], tag=tag)
        if not forms:
            return phrase
        form = forms[0]
        if tag in ("JJR", "JJS") and (len(words[i]) > 6 or len(words) > 1):
            form = ("more " if tag == "JJR" else "most ") + words[i]
        words[i] = form
        return " ".join(words)
