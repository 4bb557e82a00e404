"""The Cleaner: tables -> MT rules -> detector -> rewriter -> policy -> edits."""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from . import mtfix, policy, regions
from .config import Config
from .edits import Edit, apply_edits
from .matcher import Hit, Matcher, normalise, normalise_key, restore_case
from .tables import Entry, load_table, resolve_table, tables_dir, user_entries
from .variants import COMMON_FILE, TABLE as VARIANTS, VETO_FILE, VariantMatcher, load_veto

MODEL_STAGES = ("detector", "rewriter")
# A table hit is vetoed only when the detector is all but certain the context is clean: at 0.02 the
# shipped detector vetoed real spins in seed 002 (p 0.005-0.016) and saved no measured false edit.
VETO_P = 0.001
# An unlisted variant (cleaner.variants) is applied without other evidence when the detector reads
# each replaced word as spun at least this much (scripts/eval_variants.py --detector): 146 of the
# 2,010 held-out renderings in carrier sentences pass, 136 with the right term, and no rendering
# found in 4.2M words of clean prose comes near (the highest is 0.105). At 0.3, 4 of the 313 PPS
# test sentences got a near but wrong term ("cushy reasoning" -> "fuzzy logic").
VARIANT_P = 0.5


@dataclass
class Result:
    input: str
    text: str
    spin_score: float
    edits: list[Edit]
    path: str | None = None
    notices: list[str] = field(default_factory=list)

    @property
    def applied(self) -> list[Edit]:
        return [e for e in self.edits if e.applied]

    @property
    def changed(self) -> bool:
        return self.text != self.input

    def to_dict(self, path: str | None = None) -> dict:
        return {"path": path if path is not None else self.path, "text": self.text,
                "spin_score": round(self.spin_score, 4), "edits": [e.to_dict() for e in self.edits]}


class Cleaner:
    """Detect and restore spun phrases. Thread-compatible: one instance per worker process."""

    def __init__(self, config: Config | None = None, stages: Sequence[str] | None = None,
                 tables: Sequence[str] | None = None, entries: Iterable[Entry] | None = None):
        self.config = (config or Config()).validate()
        self.stages = tuple(stages if stages is not None else self.config.stages)
        bad = [s for s in self.stages if s not in ("tables", "mt", *MODEL_STAGES)]
        if bad:
            raise ValueError(f"unknown stage(s): {', '.join(bad)}")
        self.notices: list[str] = []
        cache = None
        if entries is None:
            names = tables if tables is not None else self.config.tables
            cache = _cache_file(names, self.config, self.stages)
            got = _cache_load(cache)
            if got is not None:
                self.entries, self.matcher, self.variants = got
                cache = None
            else:
                entries = []
                for name in names:
                    try:
                        entries.extend(load_table(resolve_table(name)).entries)
                    except FileNotFoundError as err:
                        if tables is not None or name not in ("news-spinner", "news-variants", "tortured", "mt"):
                            raise
                        self.notices.append(str(err))
                        cache = None
                entries.extend(user_entries(self.config.entries))
        if entries is not None:
            excluded = {e.casefold() for e in self.config.exclude_entries}
            self.entries = [e for e in entries if e.spun.casefold() not in excluded]
            self.matcher = Matcher(self.entries, ignore=self.config.ignore_words) if "tables" in self.stages else None
            self.variants = None
            if self.matcher is not None and self.config.variants:
                missing = [n for n in (VETO_FILE, COMMON_FILE) if not (tables_dir() / n).is_file()]
                if missing:
                    # without them the rules flag ordinary English ("brain network"): off, and say so
                    self.notices.append(f"variant rules off: {', '.join(missing)} missing in {tables_dir()}")
                else:
                    vm = VariantMatcher(self.entries, load_veto(tables_dir()), load_veto(tables_dir(), COMMON_FILE))
                    vm.listed |= {normalise_key(w) for w in self.config.ignore_words}
                    self.variants = vm if len(vm) else None
            if cache is not None:
                _cache_save(cache, (self.entries, self.matcher, self.variants))
        self._models: dict[str, object] = {}
        self._loose = None

    def with_stages(self, stages: Sequence[str]) -> "Cleaner":
        """A Cleaner for a subset of these stages sharing the parsed tables and compiled matcher
        (building them again costs ~0.3 s per process); its models load separately, on first use."""
        other = copy.copy(self)
        other.stages = tuple(s for s in self.stages if s in stages)
        other.notices, other._models = [], {}
        if "tables" not in other.stages:
            other.matcher = other.variants = None
        return other

    # -- neural stages, loaded on first use so the table path never imports torch ------------
    def _model(self, name: str):
        if name not in self.stages:
            return None
        if name not in self._models:
            model, why = None, ""
            try:
                if name == "detector":
                    from .detector import load_detector
                    model = load_detector(self.config.models_dir)
                else:
                    from .rewriter import load_rewriter
                    model = load_rewriter(self.config.models_dir)
                    if model is not None:  # the detector's reading of each candidate re-ranks them
                        model.detector = self._model("detector")
                if model is None:
                    why = "weights or torch not available"
            except ImportError as err:
                why = str(err)
            if model is None:
                self.notices.append(f"{name} stage off: {why}")
            self._models[name] = model
        return self._models[name]

    def _languagetool(self):
        """The LanguageTool checker for model rewrites, or None. Tried once per Cleaner; when a
        server was asked for (config or $LANGUAGETOOL_URL) and is unreachable, one notice says so."""
        if "languagetool" not in self._models:
            url = self.config.languagetool or os.environ.get("LANGUAGETOOL_URL")
            from . import languagetool
            checker = languagetool.LanguageToolChecker.from_config(url)
            if checker is None and url:
                self.notices.append(languagetool.why_not)
            self._models["languagetool"] = checker
        return self._models["languagetool"]

    # -- main entry points ----------------------------------------------------------------------
    def clean(self, text: str, path: str | None = None) -> Result:
        return self.clean_batch([text], [path])[0]

    def clean_batch(self, texts: Sequence[str], paths: Sequence[str | None] | None = None) -> list[Result]:
        paths = list(paths) if paths is not None else [None] * len(texts)
        pre = [self._tables_and_rules(t, p) for t, p in zip(texts, paths)]
        detector = self._model("detector") if any(t.strip() for t in texts) else None
        outs = [None] * len(texts)
        if detector is not None:
            todo = [i for i, t in enumerate(texts) if t.strip()]
            skips = [pre[i]["protected_and_hits"] for i in todo]
            det = detector.detect_batch([texts[i] for i in todo], skips) if hasattr(detector, "detect_batch") \
                else [detector.detect(texts[i], s) for i, s in zip(todo, skips)]
            for i, o in zip(todo, det):
                outs[i] = o
                self._confirm_loose_variants(texts[i], pre[i], o)
        rewrites = self._rewrite_batch(texts, pre, outs)
        return [self._finish(t, p, d, o, r) for t, p, d, o, r in zip(texts, paths, pre, outs, rewrites)]

    def _confirm_loose_variants(self, text: str, pre: dict, det) -> None:
        """Variants whose odd word is everyday English (variant-common.txt: "mind tumor" for "brain
        tumor") join the table hits where the detector reads every replaced word as spun; unconfirmed,
        they are dropped unseen. The veto pairs still hold: in spun news the detector confirms real
        phrases too ("sensory system", spun from "visual", is not "nervous system")."""
        if self.variants is None or not getattr(det, "words", None):
            return
        if self._loose is None:
            self._loose = VariantMatcher(self.entries, self.variants.veto)
            self._loose.listed |= self.variants.listed
        found = []
        for h in self._loose.find(text, pre["norm"], pre["protected_and_hits"]):
            p = _stand_in_prob(det.words, text, h.start, h.end, h.entry.canonical)
            if p is not None and p >= VARIANT_P:
                found.append(Hit(h.start, h.end, dataclasses.replace(h.entry, options=h.entry.options + (("loose", ""),))))
        if found:
            pre["hits"] = sorted(pre["hits"] + found, key=lambda h: h.start)
            pre["protected_and_hits"] = regions.merge(pre["protected_and_hits"] + [(h.start, h.end) for h in found])

    def _rewrite_batch(self, texts, pre, outs) -> list:
        """The rewriter's edits per text (None where it has nothing to do): the detector spans no
        table hit or protected region covers, for all texts in one call when the rewriter can batch."""
        out = [None] * len(texts)
        if "rewriter" not in self.stages or all(o is None for o in outs):
            return out
        rewriter = self._model("rewriter")
        todo, items = [], []
        for i, o in enumerate(outs):
            sp = [s for s in getattr(o, "spans", []) or []
                  if not regions.overlaps_any(pre[i]["protected_and_hits"], s.start, s.end)]
            if sp:
                todo.append(i)
                items.append((texts[i], sp))
        if rewriter is None or not items:
            return out
        res = rewriter.rewrite_many(items) if hasattr(rewriter, "rewrite_many") \
            else [rewriter.rewrite(t, sp) for t, sp in items]
        for i, r in zip(todo, res):
            out[i] = r
        return out

    def _tables_and_rules(self, text: str, path: str | None) -> dict:
        suffix = Path(path).suffix if path and path != "-" else ""
        protected = regions.protected_spans(text, suffix)
        norm = normalise(text) if self.matcher or "mt" in self.stages else ""
        hits: list[Hit] = self.matcher.find(text, protected, norm) if self.matcher else []
        skip = regions.merge(list(protected) + [(h.start, h.end) for h in hits])
        if self.variants is not None:
            found = self.variants.find(text, norm, skip)
            if found:
                hits = sorted(hits + found, key=lambda h: h.start)
                skip = regions.merge(skip + [(h.start, h.end) for h in found])
        dups = mtfix.duplicate_words(text, protected, norm) if "mt" in self.stages else []
        strong = [h.entry.prior for h in hits if h.entry.prior >= policy.STRONG and not h.entry.report_only]
        # Variants are applied only beside listed tortured phrases: a spun news story has a high spin
        # score too, and its synonyms can look like renderings ("development proportion").
        tortured = any(h.entry.kind == "tortured" and h.entry.prior >= policy.STRONG and not h.entry.report_only
                       and h.entry.table != VARIANTS for h in hits)
        n_words = len(text.split()) if strong else 0  # the score needs the length only when it has hits
        return {"protected": protected, "hits": hits, "n_words": n_words, "strong": strong, "tortured": tortured,
                "protected_and_hits": skip, "dups": dups, "norm": norm}

    def _variant_decision(self, e: Entry, h: Hit, text: str, spin: float, score: float, applied: bool,
                          tortured: bool, word_probs) -> tuple[bool, float, str]:
        """(applied, score, reason) of an unlisted variant: applied in an evidently spun document
        with a listed tortured phrase, or where the detector reads each replaced word as spun."""
        reason = f"unlisted variant of the listed term {e.canonical!r} (prior {e.prior:.2f}, document spin {spin:.2f})"
        if e.opt("loose") is not None:
            reason += "; its odd word is everyday English, so it stands only on the detector's reading"
        if e.report_only:
            return False, score, reason + "; it renders another listed term equally well: reported only"
        if applied and tortured:
            return True, score, reason
        p = _stand_in_prob(word_probs, text, h.start, h.end, e.canonical)
        # A raised apply threshold is the user asking for fewer edits: the detector route then only reports.
        if p is not None and p >= VARIANT_P and self.config.apply_threshold <= Config().apply_threshold:
            return True, max(score, self.config.apply_threshold), (
                reason + f"; the detector reads every replaced word as spun (lowest p {p:.2f} >= {VARIANT_P})")
        if applied:
            return False, score, reason + "; no listed tortured phrase in the document: reported only"
        return False, score, reason + ": too low to apply"

    def _finish(self, text: str, path: str | None, pre: dict, det, rewrites=None) -> Result:
        cfg = self.config
        doc_prob = getattr(det, "doc_score", None) if det is not None else None
        spin = policy.spin_score(pre["strong"], pre["n_words"], doc_prob)
        edits: list[Edit] = []
        word_probs = getattr(det, "words", None) or []
        for h in pre["hits"]:
            e = h.entry
            before = text[h.start:h.end]
            score = 1.0 if e.table == "user" else policy.edit_score(e.prior, spin, cfg.spin_weight)
            if score < cfg.report_threshold:
                continue
            applied = policy.decide(score, cfg.apply_threshold, e.report_only)
            if e.table == VARIANTS:
                applied, score, reason = self._variant_decision(e, h, text, spin, score, applied, pre["tortured"],
                                                                word_probs)
            elif e.report_only:
                reason = "proximity query: reported only" if e.opt("near") else "ambiguous expected phrase: reported only"
            elif applied:
                reason = f"table entry (prior {e.prior:.2f}, document spin {spin:.2f})"
            else:
                reason = f"common in clean prose (prior {e.prior:.2f}); document spin {spin:.2f} too low to apply"
            if applied and word_probs and e.table != "user" and e.prior < 0.99:
                p = _span_prob(word_probs, h.start, h.end)
                if p is not None and p < VETO_P:
                    applied = False
                    reason = f"detector sees clean context (p={p:.3f}); reported only"
            after = before if e.opt("near") else _without_echo(text, h.start, h.end, restore_case(before, e.canonical))
            if after == before and not e.opt("near"):
                continue
            edits.append(Edit(h.start, h.end, before, after, kind=e.kind, source=e.source,
                              score=round(score, 4), applied=applied, reason=reason))
        if pre["dups"]:
            taken = [(x.start, x.end) for x in edits]
            for m in pre["dups"]:
                if not any(s < m.end and m.start < t for s, t in taken):
                    edits.append(m)
        if det is not None and "rewriter" in self.stages:
            if rewrites is not None:
                taken = [(x.start, x.end) for x in edits]
                new = [r for r in rewrites if not any(s < r.end and r.start < t for s, t in taken)]
                without = getattr(self._model("detector"), "doc_score_without", None)
                weak = {(s.start, s.end) for s in getattr(det, "spans", []) if getattr(s, "weak", False)}
                for r in new:
                    if r.applied and (r.start, r.end) in weak:
                        # Found only by the long-document rule: more spun words are found that way, but
                        # its rewrites were right less often (harness articles), so they are suggestions.
                        r.applied = False
                        r.reason += "; span found only by the detector's long-document rule: reported only"
                    if not r.applied or r.kind == "mt":
                        continue
                    # The evidence besides the span itself: strong table hits and the detector's
                    # reading of the other words.
                    rest = policy.spin_score(pre["strong"], pre["n_words"],
                                             without(text, det, r.start, r.end) if without else doc_prob)
                    if rest < policy.MODEL_MIN_SPIN:
                        r.applied = False
                        r.reason += (f"; document spin without this span {rest:.2f} below {policy.MODEL_MIN_SPIN}: "
                                     "a model rewrite in a document that otherwise reads as clean is reported only")
                if any(r.applied and r.after != r.before for r in new) and self._languagetool() is not None:
                    new = self._languagetool().review(text, new)
                edits.extend(new)
        elif det is not None:
            # Detector only: flag what it found, suggest nothing.
            for s in getattr(det, "spans", []):
                if regions.overlaps_any(pre["protected_and_hits"], s.start, s.end):
                    continue
                edits.append(Edit(s.start, s.end, text[s.start:s.end], text[s.start:s.end], kind="spin",
                                  source=f"model:detector@{getattr(self._models.get('detector'), 'version', '?')}",
                                  score=round(float(s.score), 4), applied=False,
                                  reason="flagged by the detector; no rewriter stage to propose a replacement"))
        edits.sort(key=lambda e: (e.start, e.end))
        edits = mtfix.fix_articles(text, edits)
        out = apply_edits(text, edits)
        return Result(text, out, spin, edits, path, list(self.notices))


_LAST_WORD = re.compile(r"(\w+)[ \t]+$")
_NEXT_WORD = re.compile(r"[ \t]+(\w+)")


def _without_echo(text: str, start: int, end: int, after: str) -> str:
    """A canonical phrase longer than the hit does not repeat the word beside it: the list has
    "domestic output (GDP)" -> "gross domestic product", and in "gross domestic output (GDP)" the
    replacement must not give "gross gross domestic product (GDP)"."""
    before, aw = text[start:end], after.split(" ")
    m = _LAST_WORD.search(text, max(0, start - 40), start)
    if len(aw) > 1 and m and m.group(1).casefold() == aw[0].casefold() != before.split(" ")[0].casefold():
        aw = aw[1:]
    m = _NEXT_WORD.match(text, end)
    if len(aw) > 1 and m and m.group(1).casefold() == aw[-1].casefold() != before.split(" ")[-1].casefold():
        aw = aw[:-1]
    return " ".join(aw)


def _stand_in_prob(words, text: str, start: int, end: int, canonical: str) -> float | None:
    """The lowest detector probability among the words of text[start:end] that differ from the
    canonical phrase's word at the same place, or None (no detector, words that do not line up)."""
    inside = [(s, t, p) for s, t, p in words if start <= s and t <= end]
    canon = normalise_key(canonical).split(" ")
    if not inside or len(inside) != len(canon):
        return None
    ps = [p for (s, t, p), c in zip(inside, canon) if normalise_key(text[s:t]) != c]
    return min(ps) if ps else None


def _span_prob(words, start: int, end: int) -> float | None:
    ps = [p for s, t, p in words if s < end and start < t]
    return max(ps) if ps else None


def clean(text: str, **kwargs) -> str:
    """Convenience: the cleaned text with the default tables-and-rules pipeline."""
    return Cleaner(stages=kwargs.pop("stages", ("tables", "mt")), **kwargs).clean(text).text


def warn(msg: str) -> None:
    print(f"cleaner: {msg}", file=sys.stderr)


# -- compiled-table cache ---------------------------------------------------------------------------
# Parsing ~8,000 table lines and building the automaton costs ~0.3 s, more than a pre-commit run
# spends on the files themselves; a pickle of the result loads in a quarter of that.

def _cache_dir() -> Path | None:
    """$CLEANER_CACHE_DIR ("" or "off" disables), else $XDG_CACHE_HOME/cleaner or ~/.cache/cleaner."""
    env = os.environ.get("CLEANER_CACHE_DIR")
    if env is not None:
        return Path(env) if env not in ("", "off", "0") else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cleaner"


def _cache_file(names: Sequence[str], config: Config, stages: Sequence[str]) -> Path | None:
    """The cache file for these tables and settings; None when caching is off or a table is missing.
    The key covers every table's path, size and mtime, so any edit to a table rebuilds it."""
    folder = _cache_dir()
    if folder is None:
        return None
    import hashlib
    import pickle

    from . import __version__
    parts: list[object] = [__version__, sys.version, pickle.HIGHEST_PROTOCOL, "tables" in stages]
    for name in names:
        try:
            p = resolve_table(name).resolve()
            st = p.stat()
        except OSError:
            return None
        parts.append((str(p), st.st_size, st.st_mtime_ns))
    parts += [sorted(config.entries.items()), sorted(config.ignore_words), sorted(config.exclude_entries),
              config.variants]
    # the variant rules are code: a changed module must not reuse a matcher pickled by the old one
    from . import variants
    try:
        parts.append(hashlib.sha256(Path(variants.__file__).read_bytes()).hexdigest()[:16])
    except OSError:
        return None
    for name in (VETO_FILE, COMMON_FILE):
        p = tables_dir() / name
        parts.append(p.stat().st_mtime_ns if p.is_file() else None)
    key = hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return folder / f"tables-{key}.pickle"


def _cache_load(path: Path | None):
    if path is None or not path.is_file():
        return None
    import pickle
    try:
        with open(path, "rb") as f:
            got = pickle.load(f)
        return got if isinstance(got, tuple) and len(got) == 3 and isinstance(got[0], list) else None
    except Exception:  # a stale or damaged cache is rebuilt, never an error
        return None


def _cache_save(path: Path, value) -> None:
    import pickle
    import tempfile
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tables-", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        old = sorted(path.parent.glob("tables-*.pickle"), key=lambda p: p.stat().st_mtime)
        for p in old[:-8]:  # keep the 8 most recent keys (several repos, several configs)
            p.unlink(missing_ok=True)
    except OSError:  # read-only home, full disk: run without a cache
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
