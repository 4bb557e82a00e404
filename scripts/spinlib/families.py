"""The four spinner families. Each returns replacements on the original text; `build` turns them
into (spun text, aligned spans) in the docs/architecture.md record format."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from . import rules

WORD = re.compile(r"[A-Za-z]+(?:['’][a-z]+)?")
SENT_END = re.compile(r"(?<=[.!?])[\"”’)]*\s+(?=[\"“‘(]?[A-Z0-9])")
FAMILIES = ("dictionary", "thesaurus", "tortured", "mt")
# function words that mythes also lists as adjectives ("in", "more"): never swapped as adjectives
NOT_ADJ = set("""in on out up down off over more most less least much many few all any some each every
other such same own only very just well first last next then still even too so no not as one""".split())
DUP_WORDS = {"the", "of", "to", "and", "in", "a", "is", "that", "for", "with", "including", "also", "has", "was", "on"}


@dataclass
class Rep:
    start: int
    end: int
    new: str
    family: str


def match_case(src: str, new: str) -> str:
    if len(src) > 1 and src.isupper():
        return new.upper()
    if src[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


def build(original: str, reps: list[Rep]) -> tuple[str, list[dict]]:
    """Apply non-overlapping replacements (earliest wins) and record both offsets of each span."""
    out, spans, pos, shift = [], [], 0, 0
    for r in sorted(reps, key=lambda r: (r.start, r.end)):
        if r.start < pos or r.new == original[r.start:r.end]:
            continue
        out.append(original[pos:r.start])
        s = r.start + shift
        spans.append({"start": s, "end": s + len(r.new), "orig_start": r.start, "orig_end": r.end,
                      "before": r.new, "after": original[r.start:r.end], "family": r.family})
        out.append(r.new)
        shift += len(r.new) - (r.end - r.start)
        pos = r.end
    out.append(original[pos:])
    return "".join(out), spans


def sentences(text: str) -> list[str]:
    out = []
    for para in text.split("\n"):
        para = para.strip()
        if para:
            out.extend(s for s in SENT_END.split(para) if s.strip())
    return out


def chunks(text: str, rng: random.Random, max_chars: int = 600) -> list[str]:
    """Consecutive 1-3 sentence chunks of one paragraph (never across paragraphs)."""
    out = []
    for para in text.split("\n"):
        sents = [s for s in SENT_END.split(para.strip()) if s.strip()]
        i = 0
        while i < len(sents):
            n = rng.choice((1, 2, 2, 3))
            chunk = " ".join(sents[i:i + n])
            i += n
            if 40 <= len(chunk) <= max_chars and len(chunk.split()) >= 8:
                out.append(chunk)
    return out


def _sentence_start(text: str, i: int) -> bool:
    j = i - 1
    while j >= 0 and text[j] in " \"“‘(":
        j -= 1
    return j < 0 or text[j] in ".!?:\n"


def _compile(keys, flags=re.IGNORECASE):
    alts = "|".join(re.escape(k).replace(r"\ ", r"\s") for k in sorted(keys, key=len, reverse=True))
    return re.compile(rf"(?<![\w'’-])(?:{alts})(?![\w'’-])", flags)


class Spinner:
    def __init__(self, thesaurus=None, pps: dict[str, list[str]] | None = None):
        self.th = thesaurus
        self.dict_rules = rules.parse(rules.DICTIONARY)
        self.proper = rules.parse(rules.PROPER)
        self.calques = rules.parse(rules.CALQUES)
        self._dict_re = _compile(self.dict_rules)
        self._proper_re = _compile(self.proper, 0)
        self._calque_re = _compile(self.calques)
        self.pps = {k.lower(): v for k, v in (pps or {}).items()}
        self._pps_auto = None
        if self.pps:
            import ahocorasick
            self._pps_auto = ahocorasick.Automaton()
            for k in self.pps:
                self._pps_auto.add_word(k, k)
            self._pps_auto.make_automaton()
        self._adjs = None

    def spin(self, text: str, family: str, intensity: float, rng: random.Random) -> tuple[str, list[dict]]:
        reps = [] if family == "none" else getattr(self, family)(text, intensity, rng)
        return build(text, reps)

    # -- dictionary news spinner ------------------------------------------------------------
    def dictionary(self, text, intensity, rng):
        p = 0.45 + 0.5 * intensity
        reps = []
        for m in self._proper_re.finditer(text):
            if m.group() == "May" and not re.match(r"\s+\d", text[m.end():]):
                continue  # "May" the modal at a sentence start is not the month
            if rng.random() < 0.3:
                reps.append(Rep(m.start(), m.end(), rng.choice(self.proper[m.group()]), "dictionary"))
        for m in self._dict_re.finditer(text):
            src = m.group()
            capital_mid = src[:1].isupper() and not _sentence_start(text, m.start())
            if rng.random() < (p * 0.15 if capital_mid else p):
                new = rng.choice(self.dict_rules[re.sub(r"\s+", " ", src.lower())])
                reps.append(Rep(m.start(), m.end(), match_case(src, new), "dictionary"))
        return reps

    # -- thesaurus spinner (SpinBot-like) -----------------------------------------------------
    def thesaurus(self, text, intensity, rng):
        if self.th is None:
            raise RuntimeError("thesaurus family needs a Thesaurus (mythes-en-us)")
        p = 0.12 + 0.5 * intensity
        toks = [(m.start(), m.end(), m.group()) for m in WORD.finditer(text)]
        reps, i, prev = [], 0, ""
        while i < len(toks):
            s, e, w = toks[i]
            start_cap = w[:1].isupper() and _sentence_start(text, s)
            if w[:1].isupper() and not start_cap or "'" in w or "’" in w:
                prev, i = w.lower(), i + 1
                continue
            # collocations first, as spinners do ("climate change" as one unit)
            done = False
            for n in (3, 2):
                if i + n <= len(toks):
                    span = text[s:toks[i + n - 1][1]]
                    key = span.lower()
                    if key in self.th.phrases and " " in key and "  " not in key and rng.random() < p:
                        cands = [c for c in self.th.candidates(key, self.th.entries[key][0][0]) if c.islower()]
                        if cands:
                            reps.append(Rep(s, toks[i + n - 1][1], match_case(span, rng.choice(cands)), "thesaurus"))
                            prev, i, done = key.split()[-1], i + n, True
                            break
            if done:
                continue
            if rng.random() < p:
                lw = w.lower()
                for lemma, upos, tag in self.th.analyse(lw, prev)[:1]:
                    cands = [c for c in self.th.candidates(lemma, upos) if c.islower()]
                    if cands:
                        new = self.th.inflect(rng.choice(cands), upos, tag)
                        if new.lower() != lw:
                            reps.append(Rep(s, e, match_case(w, new), "thesaurus"))
            prev, i = w.lower(), i + 1
        return reps

    # -- tortured phrases (PPS list) ----------------------------------------------------------
    def pps_matches(self, text: str) -> list[tuple[int, int, str]]:
        if self._pps_auto is None:
            return []
        low, out = text.lower(), []
        for end, key in self._pps_auto.iter(low):
            start = end - len(key) + 1
            if (start == 0 or not low[start - 1].isalnum()) and (end + 1 == len(low) or not low[end + 1].isalnum()):
                out.append((start, end + 1, key))
        out.sort(key=lambda t: (t[0], -(t[1] - t[0])))
        kept, last = [], -1
        for s, e, k in out:
            if s >= last:
                kept.append((s, e, k))
                last = e
        return kept

    def tortured(self, text, intensity, rng):
        reps = []
        for s, e, key in self.pps_matches(text):
            if rng.random() < 0.6 + 0.4 * intensity:
                reps.append(Rep(s, e, match_case(text[s:e], rng.choice(self.pps[key])), "tortured"))
        if self.th is not None:
            taken = [(r.start, r.end) for r in reps]
            p = 0.25 + 0.5 * intensity
            for r in self.collocations(text, rng):
                if rng.random() < p and not any(r.start < e and s < r.end for s, e in taken):
                    reps.append(r)
                    taken.append((r.start, r.end))
        return reps

    def collocations(self, text, rng):
        """Word-by-word replacement of (ADJ|NOUN) NOUN terms, the way tortured phrases are made:
        each word gets a first-sense thesaurus neighbour ("artificial intelligence" -> "counterfeit
        consciousness"); both words must change, so the term as a whole is unseen."""
        toks = [(m.start(), m.end(), m.group()) for m in WORD.finditer(text)]
        out = []
        for (s1, e1, a), (s2, e2, b) in zip(toks, toks[1:]):
            if not (a.islower() and b.islower() and text[e1:s2] == " " and len(a) > 3 and len(b) > 3):
                continue
            ra = [r for r in self.th.analyse(a)[:1] if r[1] in ("ADJ", "NOUN") and r[2] in ("JJ", "NN")]
            rb = [r for r in self.th.analyse(b)[:1] if r[1] == "NOUN"]
            if not ra or not rb:
                continue
            ca = [c for c in self.th.candidates(ra[0][0], ra[0][1], senses=1) if c.islower() and " " not in c]
            cb = [c for c in self.th.candidates(rb[0][0], "NOUN", senses=1) if c.islower() and " " not in c]
            if ca and cb:
                new_b = self.th.inflect(rng.choice(cb), "NOUN", rb[0][2])
                out.append(Rep(s1, e2, f"{rng.choice(ca)} {new_b}", "tortured"))
        return out

    # -- machine-translation traces -----------------------------------------------------------
    def _adjectives(self):
        if self._adjs is None:
            ents = self.th.entries if self.th else {}
            self._adjs = {h for h, senses in ents.items() if " " not in h and senses[0][0] == "ADJ"}
        return self._adjs

    def mt(self, text, intensity, rng):
        toks = [(m.start(), m.end(), m.group()) for m in WORD.finditer(text)]
        options = []
        for m in self._calque_re.finditer(text):
            options.append(Rep(m.start(), m.end(),
                               match_case(m.group(), rng.choice(self.calques[re.sub(r"\s+", " ", m.group().lower())])), "mt"))
        adjs = self._adjectives()
        for (s1, e1, a), (s2, e2, b) in zip(toks, toks[1:]):
            if (a.islower() and b.islower() and a in adjs and b in adjs and text[e1:s2] == " " and a != b
                    and not {a, b} & NOT_ADJ and not a.endswith(("ing", "ed", "ly")) and not b.endswith(("ing", "ed", "ly"))):
                options.append(Rep(s1, e2, f"{b} {a}", "mt"))
        dups = [t for t in toks if t[2].lower() in DUP_WORDS] or toks
        rng.shuffle(options)
        n = max(1, round(intensity * 3))
        reps = options[: rng.randint(0, min(n, len(options)))]
        while len(reps) < n and dups:
            s, e, w = rng.choice(dups)
            reps.append(Rep(s, e, f"{w} {w.lower()}", "mt"))
            n -= 1
        return reps

