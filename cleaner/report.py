"""Run summary of `cleaner clean`: a JSON object and a self-contained HTML page (inline SVG, no CDN)."""

from __future__ import annotations

import html as _html
import time

TOP_PHRASES = 50


def summary(total: dict, *, command: str, inputs: list[str], output: str, edit_log: str | None,
            rejects: str | None, elapsed: float, resumed_docs: int, workers: int, stages: list[str],
            mode: str, gate: str | None = None) -> dict:
    """`gate` (how documents were routed to the neural stages) is given only when neural stages were
    configured; then the summary also has `neural_documents`, the documents that went through them."""
    bins = len(total["hist"])
    done_now = total["documents"] - resumed_docs
    mb = total["bytes"] / 1e6
    out = {
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command, "mode": mode, "stages": stages, "workers": workers,
        "inputs": inputs, "output": output, "edit_log": edit_log, "rejects": rejects,
        "documents": total["documents"], "bytes": total["bytes"], "changed_documents": total["changed"],
        "documents_with_edits": total["with_edits"],
        "bad_records": total["bad"], "passed_through": total["passed_through"], "rejected": total["rejected"],
        "edits": {"total": total["edits"], "applied": total["applied"], "suggested": total["suggested"],
                  "by_kind": dict(total["by_kind"].most_common()),
                  "by_source": dict(total["by_source"].most_common())},
        "spin_score_histogram": {"edges": [round(i / bins, 2) for i in range(bins + 1)], "counts": total["hist"]},
        "top_restored": [{"before": k.split("\t")[0], "after": k.split("\t")[1], "count": n}
                         for k, n in total["phrases"].most_common(TOP_PHRASES)],
        "errors_by_type": dict(total["errors_by_type"].most_common()),
        "errors": total["errors"],
        "run": {"elapsed_s": round(elapsed, 2), "resumed_documents": resumed_docs,
                "documents_per_s": round(done_now / elapsed, 1) if elapsed > 0 else None,
                "mb_per_s": round(mb * (done_now / total["documents"]) / elapsed, 3)
                if elapsed > 0 and total["documents"] else None},
    }
    if gate is not None:
        out["gate"] = gate
        out["neural_documents"] = total.get("neural", 0)
    return out


def _e(x) -> str:
    return _html.escape(str(x), quote=True)


def _bars(items: list[tuple[str, int]], width: int = 520, bar_h: int = 18) -> str:
    """Horizontal bar chart as inline SVG."""
    if not items:
        return "<p class=muted>none</p>"
    peak = max(v for _, v in items) or 1
    label_w = 190
    h = bar_h * len(items) + 4
    rows = []
    for i, (label, v) in enumerate(items):
        y = i * bar_h + 2
        w = max(1, int((width - label_w - 70) * v / peak)) if v else 0
        rows.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_e(label[:30])}</text>'
                    f'<rect x="{label_w}" y="{y + 2}" width="{w}" height="{bar_h - 5}" rx="2"/>'
                    f'<text x="{label_w + w + 5}" y="{y + 13}" class="n">{v:,}</text>')
    return f'<svg width="{width}" height="{h}" role="img">{"".join(rows)}</svg>'


def _histogram(edges: list[float], counts: list[int], width: int = 520, height: int = 170) -> str:
    peak = max(counts) or 1
    n = len(counts)
    bw = (width - 40) / n
    parts = []
    for i, c in enumerate(counts):
        h = int((height - 40) * c / peak)
        x = 30 + i * bw
        parts.append(f'<rect x="{x + 2:.1f}" y="{height - 25 - h}" width="{bw - 4:.1f}" height="{h}" rx="2">'
                     f'<title>{edges[i]:.1f}-{edges[i + 1]:.1f}: {c:,}</title></rect>'
                     f'<text x="{x + bw / 2:.1f}" y="{height - 28 - h}" text-anchor="middle" class="n">{c:,}</text>'
                     f'<text x="{x + bw / 2:.1f}" y="{height - 8}" text-anchor="middle">{edges[i]:.1f}</text>')
    return f'<svg width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'


CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}svg text{font-size:12px;fill:#333}
svg text.n{fill:#555}svg rect{fill:#4a7bd0}.muted{color:#888}code{background:#f4f4f4;padding:0 3px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px}
.card{background:#f6f8fb;border-radius:6px;padding:8px 12px}.card b{display:block;font-size:1.4em}"""


def html(s: dict) -> str:
    run = s["run"]
    cards = [("documents", f"{s['documents']:,}"), ("MB", f"{s['bytes'] / 1e6:,.1f}"),
             ("changed", f"{s['changed_documents']:,}"), ("edits applied", f"{s['edits']['applied']:,}"),
             ("suggested", f"{s['edits']['suggested']:,}"), ("bad records", f"{s['bad_records']:,}"),
             ("docs/s", f"{run['documents_per_s'] or 0:,}"), ("MB/s", f"{run['mb_per_s'] or 0:,}")]
    if "neural_documents" in s:
        cards.append(("to neural stages", f"{s['neural_documents']:,}"))
    phrases = "".join(f"<tr><td>{_e(p['before'])}</td><td>{_e(p['after'])}</td><td class=n>{p['count']:,}</td></tr>"
                      for p in s["top_restored"]) or "<tr><td colspan=3 class=muted>none</td></tr>"
    errors = "".join(f"<tr><td>{_e(e['source'])}:{e['line']}</td><td>{_e(e['error'])}</td></tr>"
                     for e in s["errors"][:200]) or "<tr><td colspan=2 class=muted>none</td></tr>"
    more = len(s["errors"]) < s["bad_records"] or len(s["errors"]) > 200
    meta = [("command", s["command"]), ("finished", s["finished"]), ("mode", s["mode"]),
            ("stages", ", ".join(s["stages"])), *([("gate", s["gate"])] if "gate" in s else []),
            ("workers", s["workers"]), ("output", s["output"]),
            ("edit log", s["edit_log"] or "-"), ("rejects", s["rejects"] or "-"),
            ("elapsed", f"{run['elapsed_s']} s"), ("resumed documents", f"{run['resumed_documents']:,}")]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cleaner run report</title><style>{CSS}</style></head><body>
<h1>cleaner run report</h1>
<div class=grid>{"".join(f'<div class=card><b>{v}</b>{_e(k)}</div>' for k, v in cards)}</div>
<h2>Run</h2><table>{"".join(f"<tr><th>{_e(k)}</th><td><code>{_e(v)}</code></td></tr>" for k, v in meta)}</table>
<h2>Spin score per document</h2>{_histogram(s["spin_score_histogram"]["edges"], s["spin_score_histogram"]["counts"])}
<h2>Edits by kind</h2>{_bars(list(s["edits"]["by_kind"].items()))}
<h2>Edits by source</h2>{_bars(list(s["edits"]["by_source"].items())[:25])}
<h2>Top restored phrases</h2><table><tr><th>before</th><th>after</th><th class=n>count</th></tr>{phrases}</table>
<h2>Bad records</h2>{_bars(list(s["errors_by_type"].items()))}
<table><tr><th>where</th><th>error</th></tr>{errors}</table>
{"<p class=muted>only the first errors are listed; see the summary JSON and the rejects file</p>" if more else ""}
</body></html>
"""
