"""Unlisted variants of listed tortured phrases.

The screener's list keeps growing with new renderings of terms it already lists: "spectral
clustering" appears as *ghostly bunching*, *ghastly grouping*, *otherworldly clustering*, ...
The list itself says which words stand in for which: an entry whose spun and canonical phrases
have the same number of words aligns word by word (ghostly -> spectral, bunching -> clustering).

A *variant* is a phrase of 2-3 words that renders a listed canonical term word by word, each word
being the term's own word or a stand-in the list uses for it. At least one stand-in must be odd:
neither a word of a listed canonical phrase nor everyday English (`variant-common.txt`). No pair of
its words may be ordinary English (`variant-veto.txt`), and it must not itself be listed (the table
and its guards decide those) or be a listed canonical phrase. Its canonical phrase is the term.
Variants are guesses: their prior is below the apply threshold. The pipeline applies them in
documents that are evidently spun and contain a listed tortured phrase, or where the detector reads
every replaced word as spun (pipeline.VARIANT_P); elsewhere it reports them. When the detector
runs, a matcher built without the everyday-word list finds *loose* variants too; those count only
where the detector confirms them (pipeline.Cleaner._confirm_loose_variants).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

from .matcher import Hit, RebuildOnLoad, _bounded, _overlaps, _resolve, normalise_key
from .tables import Entry

TABLE = "tortured-variants"
# Below the apply threshold on its own: a spin score of ~0.46 lifts it there (two strong listed
# phrases in a short text, about one per 200 words in a long one), and clean prose has renderings
# too ("universal alliance").
PRIOR = 0.5
MIN_WORDS, MAX_WORDS = 2, 3
MIN_SOURCE_PRIOR = 0.75
MIN_COUNT = 1
VETO_FILE = "variant-veto.txt"
COMMON_FILE = "variant-common.txt"
# Function words neither get nor give stand-ins: "of" -> "for" would turn every term into a pattern.
STOP = frozenset("""a an the of for to in on at by with from and or as is are be into onto over under
than that this these those its their our your his her it we they he she which who""".split())
_WORD = re.compile(r"^[a-z][a-z'-]*[a-z]$")
# A word with inner hyphens or apostrophes; a quote or hyphen at its edge is not part of it.
_TOKEN = re.compile(r"\w+(?:[-']\w+)*")
_TOKEN_END = re.compile(r"\w+(?:[-']\w+)*\Z")


def _unpossessive(span: tuple[int, int], norm: str) -> tuple[int, int]:
    """A word without its possessive 's ("clustering's" ends a phrase at "clustering")."""
    a, b = span
    return (a, b - 2) if b - a > 2 and norm[b - 2:b] == "'s" else span


def _content(w: str) -> bool:
    return w not in STOP and bool(_WORD.match(w))


def is_source(e: Entry) -> bool:
    """An entry the rules learn from: tortured, unguarded, prior >= MIN_SOURCE_PRIOR."""
    return e.kind == "tortured" and not e.options and e.prior >= MIN_SOURCE_PRIOR


def stand_ins(entries: Iterable[Entry], min_count: int = 1
              ) -> tuple[dict[str, dict[str, int]], list[tuple[str, ...]], dict[tuple, str]]:
    """(word -> {stand-in: count}, terms, term -> canonical as written) from tortured entries;
    stand-ins seen fewer than `min_count` times are dropped."""
    subs: dict[str, dict[str, int]] = defaultdict(dict)
    terms: dict[tuple[str, ...], str] = {}
    for e in entries:
        if not is_source(e):
            continue
        sp, ca = normalise_key(e.spun).split(" "), normalise_key(e.canonical).split(" ")
        if len(sp) != len(ca) or len(ca) < MIN_WORDS:
            continue
        if len(ca) <= MAX_WORDS and all(_content(w) or w in STOP for w in ca):
            # Lower case, but for words with a capital inside ("DNA", "pH", "LSTM"): the list writes
            # "deep Neural" and "Smart Transportation System", and restore_case() recovers a capital
            # that starts the sentence. Proper nouns ("Bernoulli") are lowered too.
            terms.setdefault(tuple(ca), " ".join(
                w if any(c.isupper() for part in w.split("-") for c in part[1:]) else w.lower()
                for w in e.canonical.split(" ")))
        for a, b in zip(sp, ca):
            if a != b and _content(a) and _content(b):
                subs[b][a] = subs[b].get(a, 0) + 1
    subs = {b: {a: n for a, n in d.items() if n >= min_count} for b, d in subs.items()}
    return {b: d for b, d in subs.items() if d}, sorted(terms), terms


class VariantMatcher(RebuildOnLoad):
    """Find variants of listed tortured terms; see the module docstring."""

    def __init__(self, entries: Sequence[Entry], veto: Iterable[str] = (), common: Iterable[str] = (),
                 min_count: int = MIN_COUNT):
        subs, terms, written = stand_ins(entries, min_count)
        self.subs = subs
        self.terms = terms
        self.written = written
        self.listed = {normalise_key(e.spun) for e in entries} | {normalise_key(e.canonical) for e in entries}
        self.veto = frozenset(normalise_key(v) for v in veto)
        # Words the list uses in canonical phrases are the field's own vocabulary ("brain network" and
        # "hidden surface" are terms in their own right) and `common` is everyday English ("leading
        # reason"): a variant needs a stand-in outside both, like "bunching" or "shrouded".
        self.vocab = frozenset(w for e in entries for w in normalise_key(e.canonical).split(" ")) | frozenset(common)
        # odd stand-in -> [(term index, position)]: a variant has an odd stand-in, so only places
        # where one occurs need a look (they are rare words: the scan costs little on clean text).
        index: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for ti, term in enumerate(terms):
            for pos, w in enumerate(term):
                for a in subs.get(w, ()):
                    if a not in self.vocab:
                        index[a].append((ti, pos))
        self.index = dict(index)
        self.allowed = [tuple(frozenset({w, *subs.get(w, ())}) for w in term) for term in terms]
        # odd stand-in -> (words that may precede it, words that may follow it) in some variant
        self.near = {a: (frozenset(w for ti, pos in v if pos > 0 for w in self.allowed[ti][pos - 1]),
                         frozenset(w for ti, pos in v if pos + 1 < len(terms[ti]) for w in self.allowed[ti][pos + 1]))
                     for a, v in self.index.items()}
        self._build()

    def _build(self):
        import ahocorasick_rs
        keys = sorted(self.index)
        self._keys = keys
        # Keys are single words and hits are kept only on word boundaries, so leftmost-longest
        # matching without overlaps sees every word that is a key.
        self._ac = ahocorasick_rs.AhoCorasick(keys, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
                                              implementation=ahocorasick_rs.Implementation.ContiguousNFA) \
            if keys else None

    def __len__(self) -> int:
        return len(self.terms)

    def _ok(self, got: Sequence[str], ti: int) -> bool:
        """Whether `got` is a variant of term `ti` (see the module docstring)."""
        term = self.terms[ti]
        if tuple(got) == term or not all(g in ok for g, ok in zip(got, self.allowed[ti])):
            return False
        odd = [g for g, w in zip(got, term) if g != w and g not in self.vocab]
        if not odd:
            return False
        phrase = " ".join(got)
        if phrase in self.listed:
            return False
        # A pair of ordinary English ("neural system", "social organization") is no evidence.
        pairs = zip(zip(got, term), zip(got[1:], term[1:]))
        return not any(f"{a} {b}" in self.veto for (a, x), (b, y) in pairs if a != x or b != y)

    def _evidence(self, got: Sequence[str], term: tuple[str, ...]) -> tuple[int, float]:
        """How well `got` renders `term`: words kept as they are, then how often the list uses
        each stand-in for that word."""
        kept = sum(g == w for g, w in zip(got, term))
        return kept, round(sum(math.log1p(self.subs.get(w, {}).get(g, 0)) for g, w in zip(got, term) if g != w), 6)

    def find(self, text: str, norm: str, protected: Sequence[tuple[int, int]] = ()) -> list[Hit]:
        """Variants in `text` (normalised as `norm`) outside `protected` (sorted, merged spans)."""
        if self._ac is None or not text:
            return []
        pstarts = [p[0] for p in protected]
        cands: dict[tuple[int, int], list[tuple[tuple[int, float], tuple[str, ...]]]] = {}
        for ki, s, e in self._ac.find_matches_as_indexes(norm):
            if not _bounded(norm, s, e):
                continue
            key = self._keys[ki]
            # The words around the hit, two each side at most, joined by single spaces only: a comma
            # or a blank line ends the phrase, a line wrap does not (normalise() made it a space).
            # Most hits have no neighbour any term could use.
            right = []
            if e < len(norm) - 1 and norm[e] == " ":
                m = _TOKEN.match(norm, e + 1)
                if m is not None:
                    right.append(_unpossessive(m.span(), norm))
            left = []
            if s > 1 and norm[s - 1] == " ":
                m = _TOKEN_END.search(norm, max(0, s - 41), s - 1)
                if m is not None:
                    left.append(m.span())
            nl, nr = self.near[key]
            if not ((left and norm[left[0][0]:left[0][1]] in nl) or (right and norm[right[0][0]:right[0][1]] in nr)):
                continue
            while right and len(right) < MAX_WORDS - 1 and right[-1][1] < len(norm) - 1 and norm[right[-1][1]] == " ":
                m = _TOKEN.match(norm, right[-1][1] + 1)
                if m is None:
                    break
                right.append(_unpossessive(m.span(), norm))
            while left and len(left) < MAX_WORDS - 1 and left[0][0] > 1 and norm[left[0][0] - 1] == " ":
                m = _TOKEN_END.search(norm, max(0, left[0][0] - 41), left[0][0] - 1)
                if m is None:
                    break
                left.insert(0, m.span())
            toks = left + [(s, e)] + right
            words = [norm[x:y] for x, y in toks]
            here = len(left)
            for ti, pos in self.index[key]:
                term = self.terms[ti]
                first = here - pos
                if first < 0 or first + len(term) > len(toks):
                    continue
                got = words[first:first + len(term)]
                if not self._ok(got, ti):
                    continue
                span = toks[first:first + len(term)]
                start, end = span[0][0], span[-1][1]
                if not _bounded(norm, start, end):
                    continue
                if protected and _overlaps(pstarts, protected, start, end):
                    continue
                cands.setdefault((start, end), []).append((self._evidence(got, term), term))
        found = []
        for (start, end), cs in cands.items():
            cs = sorted(set(cs), reverse=True)
            (best, term) = cs[0]
            # Two terms explain the words equally well: a guess between them is not an edit.
            tie = len(cs) > 1 and cs[1][0] == best
            found.append(Hit(start, end, Entry(text[start:end], self.written[term], PRIOR,
                                               (("report", ""),) if tie else (), TABLE, "tortured", 0)))
        return sorted(_resolve(found), key=lambda h: h.start)


def load_veto(folder: str | Path, name: str = VETO_FILE) -> list[str]:
    """A shipped word list (the veto pairs, or the everyday words), or [] when absent."""
    p = Path(folder) / name
    if not p.is_file():
        return []
    return [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]


def validate_list(path: str | Path, words: int) -> list[str]:
    """Problems of a shipped word list: lines of `words` lower-case words, sorted, no duplicates."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        return [f"{p}: {err}"]
    word = r"[a-z0-9][a-z0-9'-]*"
    line_re = re.compile(" ".join([word] * words))
    problems = [f"{p}:{i}: expected {words} lower-case word(s): {ln!r}"
                for i, ln in enumerate(raw, 1) if not ln.startswith("#") and not line_re.fullmatch(ln)]
    lines = [ln for ln in raw if not ln.startswith("#")]
    if lines != sorted(set(lines)):
        problems.append(f"{p}: lines must be sorted and unique")
    return problems
