"""Machine-translation artifacts: duplicated words, and a/an agreement after a replacement."""

from __future__ import annotations

import re

from .edits import Edit

_DUP = re.compile(r"\b([^\W\d_][\w']*)([ \t]+)(\1)\b(?![-\u2019'][^\W\d_])", re.I)

# Doubles that are grammatical or idiomatic in edited English.
LEGIT_DOUBLES = frozenset("""
that had is was do does did will can bye ha haha ho hee no yes so very really knock tut chop
blah yada pom ta go there now well there's many more much far too bang boo tsk dum la cha
""".split())


def duplicate_words(text: str, protected=()) -> list[Edit]:
    """'including including' -> 'including'. Capitalised doubles are likely names: report only."""
    from .regions import overlaps_any
    edits = []
    for m in _DUP.finditer(text):
        w1, gap, w2 = m.group(1), m.group(2), m.group(3)
        if w1.lower() in LEGIT_DOUBLES or len(w1) == 1 and w1.lower() not in ("a",):
            continue
        if protected and overlaps_any(protected, m.start(), m.end()):
            continue
        start, end = m.end(1), m.end(3)
        capital = w1[0].isupper() or w2[0].isupper()
        score = 0.5 if capital else 0.95
        edits.append(Edit(start, end, text[start:end], "", kind="mt", source="rule:duplicate-word",
                          score=score, applied=not capital,
                          reason=("capitalised double may be a name (e.g. 'Bora Bora'): reported only"
                                  if capital else f"word repeated: {w1!r}")))
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
