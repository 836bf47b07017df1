"""plan.html and archive.html for a large archive, generated (nothing probed or run) and measured
in headless Chromium: page weight (the HTML, and the pictures the first view loads) and time to
first paint and first contentful paint, for N generated titles.

    python -m vsr.measure.report_pages --titles 1000 [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from vsr.models.catalogue import default_models
from vsr.workflow.pages import archive_page, plan_page

MODEL = default_models()["anime"]  # what the made-up titles name

STATUSES = ("ok", "ok", "ok", "review", "error")
ARCHIVE_STATUSES = ("done", "done", "done", "done", "failed")


def decision(value: str, why: str) -> dict[str, Any]:
    return {"value": value, "why": why, "evidence": {}}


def plan_rows(count: int, picture: str) -> list[dict[str, Any]]:
    """`count` plan rows as `vsr plan` writes them, each with its own contact sheet file."""
    rows = []
    for i in range(count):
        status = STATUSES[i % len(STATUSES)]
        rows.append(
            {
                "id": f"title-{i:04d}",
                "status": status,
                "reason": {
                    "error": "truncated: the container declares 3600 s, the streams end at 2011 s",
                    "review": "scan type interlaced uncertain (confidence 0.61)",
                }.get(status, ""),  # fmt: skip
                "model": MODEL,
                "source": f"/archive/tapes/title-{i:04d}.mpg",
                "scan": "interlaced tff",
                "size": "2880x1920",
                "frames": 86400,
                "est_model_seconds": 5400.0,
                "sheet": picture.format(i=i),
                "decisions": {
                    "scan": decision("interlaced tff", "measured (deinterlace=auto)"),
                    "fields": decision("bwdif, one frame per frame", "deinterlace=auto"),
                    "crop": decision("704:480:8:0", "stable bars found"),
                    "size": decision("2880x1920", "4x the picture, square pixels"),
                    "container": decision("mkv", "the source's PCM audio"),
                    "frames": decision(86400, "the source's"),
                },
            }
        )
    order = {"error": 0, "review": 1, "ok": 2}
    return sorted(rows, key=lambda r: (order[r["status"]], r["id"]))


def archive_records(count: int, picture: str) -> list[dict[str, Any]]:
    checks = {
        name: {"pass": True, "value": 1, "expected": "<= 1"}
        for name in ("frames", "duration", "audio_offset", "aspect", "scan", "black", "frozen")
    }
    records = []
    for i in range(count):
        status = ARCHIVE_STATUSES[i % len(ARCHIVE_STATUSES)]
        failed = status == "failed"
        records.append(
            {
                "id": f"title-{i:04d}",
                "status": status,
                "stage": "qc" if failed else "",
                "reason": "qc failed: black 24 black frames" if failed else "",
                "model": MODEL,
                "frames": 86400,
                "fps": 31.2,
                "qc": "black 24 (expected <= 0.062 of frames)" if failed else "ok",
                "scan": "interlaced tff",
                "fields": "bwdif",
                "crop": "704:480:8:0",
                "size": "2880x1920",
                "container": "mkv",
                "output": "" if failed else f"/results/title-{i:04d}/final.mkv",
                "unpublished": f"/results/title-{i:04d}/work/assembled.mkv" if failed else "",
                "log": f"/results/title-{i:04d}/logs/qc-mkv.log",
                "checks": checks,
                "crops": picture.format(i=i),
            }
        )
    return records


def measure(chromium: str, html: Path, picture_bytes: int) -> dict[str, Any]:
    """Page weight and paint times of one page, in a fresh headless Chromium: the HTML, and
    the pictures loaded by the time the page's load event has passed (each `picture_bytes`)."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="vsr-pages-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=chromium, headless=True,
                args=["--no-sandbox"], viewport={"width": 1280, "height": 900},
            )  # fmt: skip
            page = context.new_page()
            page.goto(html.as_uri(), wait_until="load")
            page.wait_for_timeout(500)
            timing = page.evaluate(
                """() => {
                const p = Object.fromEntries(performance.getEntriesByType('paint')
                    .map(e => [e.name, e.startTime]));
                const n = performance.getEntriesByType('navigation')[0];
                const imgs = [...document.images];
                const index = document.getElementById('index');
                const card = document.querySelector('div.title');
                return {first_paint_ms: p['first-paint'], fcp_ms: p['first-contentful-paint'],
                        dom_ms: n.domContentLoadedEventEnd, load_ms: n.loadEventEnd,
                        images: imgs.length,
                        images_loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
                        index_first: !!index && !!card &&
                            !!(index.compareDocumentPosition(card) & 4)};
                }"""
            )
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    weight = html.stat().st_size + timing["images_loaded"] * picture_bytes
    return {"html_bytes": html.stat().st_size, "weight_bytes": weight, **timing}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vsr.measure.report_pages", description=__doc__)
    p.add_argument("--titles", type=int, default=1000)
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--picture", type=Path, help="a PNG every title's picture copies")
    p.add_argument("--out", type=Path, default=Path("report-pages"))
    args = p.parse_args(argv)
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pictures").mkdir(exist_ok=True)
    if args.picture:
        for i in range(args.titles):
            shutil.copy(args.picture, args.out / "pictures" / f"{i:04d}.png")
    picture = "pictures/{i:04d}.png"
    plan = args.out / "plan.html"
    plan.write_text(plan_page(plan_rows(args.titles, picture), {"kind": "cuda", "free_gb": 900}))
    archive = args.out / "archive.html"
    archive.write_text(archive_page(archive_records(args.titles, picture)))
    size = args.picture.stat().st_size if args.picture else 0
    figures = {page.name: measure(args.chromium, page, size) for page in (plan, archive)}
    print(json.dumps({"titles": args.titles, **figures}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
