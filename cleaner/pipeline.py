"""The Cleaner: tables -> MT rules -> detector -> rewriter -> policy -> edits."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from . import mtfix, policy, regions
from .config import Config
from .edits import Edit, apply_edits
from .matcher import Hit, Matcher, normalise, restore_case
from .tables import Entry, load_table, resolve_table, user_entries

MODEL_STAGES = ("detector", "rewriter")
# A table hit is vetoed only when the detector is all but certain the context is clean: at 0.02 the
# shipped detector vetoed real spins in seed 002 (p 0.005-0.016) and saved no measured false edit.
VETO_P = 0.001


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
        if entries is None:
            entries = []
            for name in (tables if tables is not None else self.config.tables):
                try:
                    entries.extend(load_table(resolve_table(name)).entries)
                except FileNotFoundError as err:
                    if tables is not None or name not in ("news-spinner", "tortured", "mt"):
                        raise
                    self.notices.append(str(err))
            entries.extend(user_entries(self.config.entries))
        excluded = {e.casefold() for e in self.config.exclude_entries}
        self.entries = [e for e in entries if e.spun.casefold() not in excluded]
        self.matcher = Matcher(self.entries, ignore=self.config.ignore_words) if "tables" in self.stages else None
        self._models: dict[str, object] = {}

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
        return [self._finish(t, p, d, o) for t, p, d, o in zip(texts, paths, pre, outs)]

    def _tables_and_rules(self, text: str, path: str | None) -> dict:
        suffix = Path(path).suffix if path and path != "-" else ""
        protected = regions.protected_spans(text, suffix)
        hits: list[Hit] = self.matcher.find(text, protected, normalise(text)) if self.matcher else []
        n_words = len(text.split())
        strong = [h.entry.prior for h in hits if h.entry.prior >= policy.STRONG and not h.entry.report_only]
        skip = regions.merge(list(protected) + [(h.start, h.end) for h in hits])
        return {"protected": protected, "hits": hits, "n_words": n_words, "strong": strong,
                "protected_and_hits": skip}

    def _finish(self, text: str, path: str | None, pre: dict, det) -> Result:
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
            if e.report_only:
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
            after = before if e.opt("near") else restore_case(before, e.canonical)
            if after == before and not e.opt("near"):
                continue
            edits.append(Edit(h.start, h.end, before, after, kind=e.kind, source=e.source,
                              score=round(score, 4), applied=applied, reason=reason))
        if "mt" in self.stages:
            taken = [(x.start, x.end) for x in edits]
            for m in mtfix.duplicate_words(text, pre["protected"]):
                if not any(s < m.end and m.start < t for s, t in taken):
                    edits.append(m)
        if det is not None and "rewriter" in self.stages:
            spans = [s for s in getattr(det, "spans", [])
                     if not regions.overlaps_any(pre["protected_and_hits"], s.start, s.end)]
            rewriter = self._model("rewriter")
            if spans and rewriter is not None:
                taken = [(x.start, x.end) for x in edits]
                new = [r for r in rewriter.rewrite(text, spans)
                       if not any(s < r.end and r.start < t for s, t in taken)]
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


def _span_prob(words, start: int, end: int) -> float | None:
    ps = [p for s, t, p in words if s < end and start < t]
    return max(ps) if ps else None


def clean(text: str, **kwargs) -> str:
    """Convenience: the cleaned text with the default tables-and-rules pipeline."""
    return Cleaner(stages=kwargs.pop("stages", ("tables", "mt")), **kwargs).clean(text).text


def warn(msg: str) -> None:
    print(f"cleaner: {msg}", file=sys.stderr)
