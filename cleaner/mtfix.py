"""Machine-translation artifacts: duplicated words, and a/an agreement after a replacement."""

from __future__ import annotations

import operator
import re
from itertools import compress

from .edits import Edit

# Neither word may continue another word through an apostrophe ("o'clock clock" is no double).
_DUP = re.compile(r"\b(?<!\w['\u2019])([^\W\d_][\w']*)([ \t]+)(\1)\b(?!\w)(?![-\u2019'][^\W\d_])", re.I)

# Doubles that are grammatical or idiomatic in edited English.
LEGIT_DOUBLES = frozenset("""
that had is was do does did will can bye ha haha ho hee no yes so very really knock tut chop
blah yada pom ta go there now well there's many more much far too bang boo tsk dum la cha
""".split())


_ASCII_WORD = bytes(c for c in range(128) if chr(c).isalnum() or chr(c) in "_' ")
_NON_WORD = re.compile(r"[^\w']+")
_ASCII_BLANK = bytes.maketrans(bytes(c for c in range(128) if c not in _ASCII_WORD), b" " * (128 - len(_ASCII_WORD)))


# A doubled content word right after a capitalised word is a trinomial name as often as an error:
# "Gorilla gorilla gorilla", "Haliotis cracherodii cracherodii". Doubled function words, the usual
# MT slip ("New York the the"), and doubles after a capitalised function word ("In the the") are not.
_PREV_CAPITAL = re.compile(r"(?<![\w'’-])([A-Z][a-z]+)[ \t]+$")  # a genus: not "Putin's", not "NASA"
_FUNCTION_WORDS = frozenset("""a an the in on at of for to by with from into onto about over under and but or
nor as if when while that this these those it its he she they we i you there here so then now after
before since because is are was were be been has have had will would can could not also including""".split())


def _after_name(text: str, start: int, word: str) -> bool:
    if word.lower() in _FUNCTION_WORDS:
        return False
    m = _PREV_CAPITAL.search(text, max(0, start - 40), start)
    return m is not None and m.group(1).lower() not in _FUNCTION_WORDS


def _allowed_double(w: str) -> bool:
    """Doubles left alone: grammatical ones ("had had") and single letters other than "a"."""
    return w in LEGIT_DOUBLES or len(w) == 1 and w != "a"


def _doubled(low: str) -> set[str]:
    """Words that occur twice in a row once punctuation is ignored: a cheap superset of the
    words _DUP can match. Works on UTF-8 bytes with C-level methods only: a regex over every
    word, or a Python loop over them, costs several times more."""
    data = low.encode("utf-8", "surrogatepass").translate(_ASCII_BLANK)
    if b"'" in data:  # quotes and doubled apostrophes, not apostrophes inside words
        data = b" " + data + b" "
        while b"''" in data:
            data = data.replace(b"''", b"  ")
        data = data.replace(b" '", b"  ").replace(b"' ", b"  ")
    words = data.split()
    # Only the few chunks with non-ASCII characters can hide punctuation ("“the", "a—the"): re-split those.
    odd = list(compress(range(len(words)), map(operator.not_, map(bytes.isascii, words))))
    if odd:
        out, prev = [], 0
        for i in odd:
            out += words[prev:i]
            out += [x.strip("'").encode("utf-8", "surrogatepass")
                    for x in _NON_WORD.split(words[i].decode("utf-8", "surrogatepass")) if x.strip("'")]
            prev = i + 1
        words = out + words[prev:]
    return {w.decode("utf-8", "surrogatepass") for w in compress(words, map(operator.eq, words, words[1:]))}


def _dup_matches(text: str, low: str, skip=lambda w: False):
    """_DUP's matches, looking only where a doubled word occurs (and not for words where `skip(w)`)."""
    starts = set()
    for w in _doubled(low):
        if not w[0].isalpha() or skip(w):  # _DUP's word starts with a letter
            continue
        # str.find is many times faster than a regex search; a run of blanks is caught by "w  "
        for pat in (f"{w} {w}", f"{w}  "):
            i = low.find(pat)
            while i >= 0:  # overlapping search: the real double may start inside a false one
                starts.add(i)
                i = low.find(pat, i + 1)
    end = -1
    for s in sorted(starts):
        m = _DUP.match(text, s) if s >= end else None
        if m:
            end = m.end()
            yield m


def duplicate_words(text: str, protected=(), norm: str | None = None) -> list[Edit]:
    """'including including' -> 'including'. Capitalised doubles are likely names: report only.
    `norm` is matcher.normalise(text) when the caller has it."""
    from .matcher import normalise
    from .regions import overlaps_any
    edits = []
    for m in _dup_matches(text, norm if norm is not None else normalise(text), _allowed_double):
        w1, w2 = m.group(1), m.group(3)
        if protected and overlaps_any(protected, m.start(), m.end()):
            continue
        start, end = m.end(1), m.end(3)
        if w1[0].isupper() or w2[0].isupper():
            why = "capitalised double may be a name (e.g. 'Bora Bora'): reported only"
        elif _after_name(text, m.start(), w1):
            why = "double after a capitalised word may be a taxon (e.g. 'Gorilla gorilla gorilla'): reported only"
        else:
            why = ""
        edits.append(Edit(start, end, text[start:end], "", kind="mt", source="rule:duplicate-word",
                          score=0.5 if why else 0.95, applied=not why, reason=why or f"word repeated: {w1!r}"))
    return edits



_ARTICLE_BEFORE = re.compile(r"(?<![\w'])([Aa]n?)([ \t]+)$")
# Vowel letters that sound like consonants, and silent-h words that take "an".
_CONSONANT_SOUND = re.compile(r"^(?:uni|use|usu|uti|ura|ure|uro|eu|ewe|one\b|once\b|ubiq|u\b|ufo|uk\b|us\b)", re.I)


def wants_an(word: str) -> bool:
    if not word:
        return False
    if _CONSONANT_SOUND.match(word):
        return False
    if word[0] in "FHLMNRSX" and (len(word) == 1 or word.isupper()):
        return True  # initialisms read letter by letter: an FBI agent, an MP
    return bool(re.match(r"^(?:hour|honest|honou?r|heir)", word, re.I) or word[0].lower() in "aeiou")


def fix_articles(text: str, edits: list[Edit]) -> list[Edit]:
    """Extend applied replacements over a preceding 'a'/'an' that no longer agrees."""
    out: list[Edit] = []
    for e in edits:  # sorted by start
        if e.applied and e.after and e.after[0].isalpha():
            m = _ARTICLE_BEFORE.search(text, max(0, e.start - 6), e.start)
            if m and not (out and out[-1].end > m.start()):
                art, gap = m.group(1), m.group(2)
                first = re.match(r"[\w'-]+", e.after)
                need_an = wants_an(first.group(0) if first else e.after)
                if (art.lower() == "an") != need_an:
                    new = ("An" if art[0] == "A" else "an") if need_an else ("A" if art[0] == "A" else "a")
                    e = Edit(m.start(), e.end, text[m.start():e.end], new + gap + e.after, e.kind, e.source,
                             e.score, e.applied, (e.reason + "; " if e.reason else "") + f"article {art!r} -> {new!r}",
                             candidates=e.candidates, meta=e.meta)
        out.append(e)
    return out
