"""The operator's pages: plan.html (before a run: a contact sheet and the decisions per title,
errors and review first) and archive.html (after: status, QC against its thresholds, decisions,
frames/s and before/after crops per title, failed and review first). Static files, pictures
beside them.

Both open with an index, one line per title (status, scan, reason, model...), that sorts by any
column and filters by text and status, so that 1,000 titles stay workable; the cards follow,
each rendered only when scrolled near (`content-visibility`) and its pictures loaded only then
(`loading=lazy`): the first paint does not wait for the cards."""

from __future__ import annotations

import html
from typing import Any

STYLE = """
body{font-family:sans-serif;margin:1em;color:#222}
.title{border:1px solid #ccc;border-radius:6px;padding:.6em;margin:.8em 0;
content-visibility:auto;contain-intrinsic-size:auto 480px}
.error,.failed,.incomplete{border-left:8px solid #c62828}
.review{border-left:8px solid #f9a825}
.ok,.done{border-left:8px solid #2e7d32}
.badge{font-weight:bold;text-transform:uppercase;margin-right:.5em}
.reason{font-weight:bold}
table{border-collapse:collapse;margin:.4em 0}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top;font-size:90%}
#index th{cursor:pointer;background:#f4f4f4;position:sticky;top:0}
#index td.s-error,#index td.s-failed,#index td.s-incomplete{color:#c62828;font-weight:bold}
#index td.s-review{color:#a06b00;font-weight:bold}
#index td:nth-child(4){max-width:40em}
.fail td{background:#fdecea}
img{max-width:100%;display:block;margin:.3em 0}
.none{color:#888;font-style:italic}
"""

# Sort by a column (click its heading; again: the other way) and filter by text and status.
SCRIPT = """
(function(){
const t=document.getElementById('index'),b=t.tBodies[0],f=document.getElementById('filter'),
s=document.getElementById('status'),n=document.getElementById('shown');
function apply(){const q=f.value.toLowerCase(),st=s.value;let k=0;
for(const r of b.rows){
const on=(!st||r.dataset.status===st)&&(!q||r.textContent.toLowerCase().includes(q));
r.hidden=!on;if(on)k++;}n.textContent=k;}
f.addEventListener('input',apply);s.addEventListener('change',apply);
t.tHead.addEventListener('click',e=>{const th=e.target.closest('th');if(!th)return;
const i=th.cellIndex,up=th.dataset.dir!=='up';th.dataset.dir=up?'up':'down';
const num=th.dataset.num==='1',rows=[...b.rows];
rows.sort((x,y)=>{const a=x.cells[i].textContent,c=y.cells[i].textContent;
const r=num?(parseFloat(a)||0)-(parseFloat(c)||0):a.localeCompare(c);return up?r:-r;});
b.append(...rows);});
})();
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _page(title: str, summary: str, index: str, cards: list[str]) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{_e(title)}</h1>{summary}{index}"
        + "".join(cards)
        + f"<script>{SCRIPT}</script></body></html>\n"
    )


def _index(rows: list[dict[str, Any]], columns: list[tuple[str, str]], states: list[str]) -> str:
    """The one-line-per-title table: `columns` are (heading, key); `states` the statuses."""
    numeric = {"frames", "est_model_seconds", "fps", "est_disk_gb"}
    head = "".join(f"<th data-num='{int(key in numeric)}'>{_e(name)}</th>" for name, key in columns)
    body = []
    for row in rows:
        cells = []
        for _, key in columns:
            value = row.get(key)
            if key == "id":
                cells.append(f"<td><a href='#title-{_e(value)}'>{_e(value)}</a></td>")
            elif key == "status":
                cells.append(f"<td class='s-{_e(value)}'>{_e(value)}</td>")
            else:
                cells.append(f"<td>{_e(value)}</td>")
        body.append(f"<tr data-status='{_e(row['status'])}'>{''.join(cells)}</tr>")
    options = "".join(f"<option>{_e(s)}</option>" for s in states)
    return (
        "<p><input id='filter' type='search' placeholder='filter: id, reason, scan, model...'"
        f" size='40'> <select id='status'><option value=''>every status</option>{options}"
        f"</select> <span id='shown'>{len(rows)}</span> of {len(rows)} titles</p>"
        f"<table id='index'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _picture(path: str | None, alt: str, missing: str) -> str:
    if path:
        return f"<img src='{_e(path)}' alt='{_e(alt)}' loading='lazy'>"
    return f"<p class='none'>{_e(missing)}</p>"


PLAN_INDEX = [
    ("id", "id"),
    ("status", "status"),
    ("scan", "scan"),
    ("reason", "reason"),
    ("model", "model"),
    ("size", "size"),
    ("frames", "frames"),
    ("model s", "est_model_seconds"),
]


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
    index = _index(rows, PLAN_INDEX, ["error", "review", "ok"])
    return _page("vsr plan", summary, index, cards)


ARCHIVE_ORDER = {"failed": 0, "incomplete": 0, "pending": 1, "review": 2, "done": 3}
ARCHIVE_INDEX = [
    ("id", "id"),
    ("status", "state"),
    ("scan", "scan"),
    ("reason", "why"),
    ("model", "model"),
    ("stage", "stage"),
    ("frames", "frames"),
    ("frames/s", "fps"),
    ("qc waived", "waived"),
]


def _checks(checks: dict[str, Any]) -> str:
    """Every QC check: its value next to its threshold, failed ones marked."""
    if not checks:
        return ""
    rows = "".join(
        f"<tr class='{'pass' if c.get('pass') else 'fail'}'><th>{_e(name)}</th>"
        f"<td>{_e(c.get('value'))}</td><td>{_e(c.get('expected'))}</td>"
        f"<td>{'ok' if c.get('pass') else 'FAILED'}</td></tr>"
        for name, c in checks.items()
    )
    return (
        f"<table><tr><th>QC check</th><th>value</th><th>threshold</th><th></th></tr>{rows}</table>"
    )


def archive_page(records: list[dict[str, Any]]) -> str:
    """archive.html: every title of the batch, failed and review titles first."""

    def state(record: dict[str, Any]) -> str:
        return "review" if record["status"] == "done" and record.get("review") else record["status"]

    ordered = sorted(records, key=lambda r: (ARCHIVE_ORDER.get(state(r), 1), r["id"]))
    counts: dict[str, int] = {}
    for record in records:
        counts[state(record)] = counts.get(state(record), 0) + 1
    summary = "<p id='counts'>" + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + "</p>"
    cards, lines = [], []
    for r in ordered:
        s = state(r)
        reason = r.get("reason") or r.get("review") or ""
        lines.append({**r, "status": s, "state": s, "why": reason})
        rows = "".join(
            f"<tr><th>{name}</th><td>{_e(r.get(key))}</td></tr>"
            for name, key in (
                ("stage", "stage"),
                ("model", "model"),
                ("QC", "qc"),
                ("QC waived", "waived"),
                ("frames", "frames"),
                ("frames/s", "fps"),
                ("scan", "scan"),
                ("fields", "fields"),
                ("crop", "crop"),
                ("size", "size"),
                ("container", "container"),
                ("output", "output"),
                ("unpublished output", "unpublished"),
                ("log", "log"),
            )
            if r.get(key) not in (None, "")
        )
        picture = (
            _picture(r.get("crops"), f"before and after of {r['id']}", "no before/after crop")
            if r["status"] == "done" or r.get("unpublished")
            else ""
        )
        cards.append(
            f"<div class='title {s}' id='title-{_e(r['id'])}'>"
            f"<h2><span class='badge'>{_e(s)}</span>{_e(r['id'])}</h2>"
            + (f"<p class='reason'>{_e(reason)}</p>" if reason else "")
            + f"<table>{rows}</table>{_checks(r.get('checks') or {})}{picture}</div>"
        )
    index = _index(lines, ARCHIVE_INDEX, sorted(counts, key=lambda s: ARCHIVE_ORDER.get(s, 1)))
    return _page("vsr batch: archive", summary, index, cards)
