"""The operator's pages: plan.html (before a run: a contact sheet and the decisions per title,
errors and review first) and archive.html (after: status, QC, decisions, frames/s and
before/after crops per title, failed and review first). Static files, pictures beside them."""

from __future__ import annotations

import html
from typing import Any

STYLE = """
body{font-family:sans-serif;margin:1em;color:#222}
.title{border:1px solid #ccc;border-radius:6px;padding:.6em;margin:.8em 0}
.error,.failed,.incomplete{border-left:8px solid #c62828}
.review{border-left:8px solid #f9a825}
.ok,.done{border-left:8px solid #2e7d32}
.badge{font-weight:bold;text-transform:uppercase;margin-right:.5em}
.reason{font-weight:bold}
table{border-collapse:collapse;margin:.4em 0}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top;font-size:90%}
img{max-width:100%;display:block;margin:.3em 0}
.none{color:#888;font-style:italic}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _page(title: str, summary: str, cards: list[str]) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{_e(title)}</h1>{summary}"
        + "".join(cards)
        + "</body></html>\n"
    )


def _picture(path: str | None, alt: str, missing: str) -> str:
    if path:
        return f"<img src='{_e(path)}' alt='{_e(alt)}'>"
    return f"<p class='none'>{_e(missing)}</p>"


def plan_page(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """plan.html: `rows` as plan.csv's (sorted: error, review, ok), with their decisions."""
    counts = {s: sum(r["status"] == s for r in rows) for s in ("error", "review", "ok")}
    seconds = sum(r.get("est_model_seconds") or 0 for r in rows)
    summary = (
        f"<p id='counts'>{len(rows)} titles: {counts['error']} error, {counts['review']} review,"
        f" {counts['ok']} ok. Estimated model time {seconds / 3600:.2f} h on"
        f" {_e(meta.get('kind'))} ({_e(meta.get('device'))}); {_e(meta.get('free_gb'))} GB"
        " free for intermediates.</p>"
    )
    cards = []
    for row in rows:
        made = row.get("decisions") or {}
        table = "".join(
            f"<tr><th>{_e(name)}</th><td>{_e(d.get('value'))}</td><td>{_e(d.get('why'))}</td></tr>"
            for name, d in made.items()
        )
        if row.get("est_model_seconds") not in (None, ""):
            table += (
                f"<tr><th>model time</th><td>{_e(row['est_model_seconds'])} s</td>"
                f"<td>{_e(row['model'])} on {_e(meta.get('kind'))}</td></tr>"
            )
        reason = f"<span class='reason'>{_e(row['reason'])}</span>" if row.get("reason") else ""
        cards.append(
            f"<div class='title {row['status']}' id='title-{_e(row['id'])}'>"
            f"<h2><span class='badge'>{_e(row['status'])}</span>{_e(row['id'])}</h2>"
            f"<p>{reason}</p><p>{_e(row.get('source'))}</p>"
            + _picture(row.get("sheet"), f"contact sheet of {row['id']}", "no frame decodes")
            + (
                f"<table><tr><th>decision</th><th>value</th><th>why</th></tr>{table}</table>"
                if table
                else ""
            )  # fmt: skip
            + "</div>"
        )
    return _page("vsr plan", summary, cards)


ARCHIVE_ORDER = {"failed": 0, "incomplete": 0, "pending": 1, "review": 2, "done": 3}


def archive_page(records: list[dict[str, Any]]) -> str:
    """archive.html: every title of the batch, failed and review titles first."""

    def state(record: dict[str, Any]) -> str:
        return "review" if record["status"] == "done" and record.get("review") else record["status"]

    ordered = sorted(records, key=lambda r: (ARCHIVE_ORDER.get(state(r), 1), r["id"]))
    counts: dict[str, int] = {}
    for record in records:
        counts[state(record)] = counts.get(state(record), 0) + 1
    summary = "<p id='counts'>" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + "</p>"
    cards = []
    for r in ordered:
        s = state(r)
        reason = r.get("reason") or r.get("review") or ""
        rows = "".join(
            f"<tr><th>{name}</th><td>{_e(r.get(key))}</td></tr>"
            for name, key in (
                ("QC", "qc"),
                ("frames", "frames"),
                ("frames/s", "fps"),
                ("scan", "scan"),
                ("crop", "crop"),
                ("container", "container"),
                ("output", "output"),
                ("log", "log"),
            )
            if r.get(key) not in (None, "")
        )
        picture = (
            _picture(r.get("crops"), f"before and after of {r['id']}", "no before/after crop")
            if r["status"] == "done"
            else ""
        )
        cards.append(
            f"<div class='title {s}' id='title-{_e(r['id'])}'>"
            f"<h2><span class='badge'>{_e(s)}</span>{_e(r['id'])}</h2>"
            + (f"<p class='reason'>{_e(reason)}</p>" if reason else "")
            + f"<table>{rows}</table>{picture}</div>"
        )
    return _page("vsr batch: archive", summary, cards)
