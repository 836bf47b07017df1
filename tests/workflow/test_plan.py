"""`vsr plan`: every title that would fail is flagged with its reason and a contact sheet, the
decisions are the ones `vsr batch` then makes, and plan.html / archive.html open in a browser
with their pictures."""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import pytest
from helpers.archive import AC3_PS, MPEG2_TFF, base_clip, interlace, letterbox
from helpers.workflow import VSR, ffmpeg_copy, run

from vsr.media.sample import ClipSpec, make_clip

pytest_plugins = ["helpers.ui"]
CONFIG = ["container=mp4", "intermediate=none", "shard_frames=6"]


@pytest.fixture(scope="module")
def titles(tmp_path_factory) -> dict[str, Path]:
    """Two titles that run (letterboxed; interlaced MPEG-2 PS), one a person should look at
    (bars take 44% of the picture) and three that cannot run."""
    folder = tmp_path_factory.mktemp("titles")
    good = make_clip(folder / "good.mp4", ClipSpec(width=96, height=64, frames=48))
    v60 = base_clip(folder, "v60", width=96, height=64, frames=96, rate="60000/1001")
    made = {
        "boxed": letterbox(good, folder / "boxed.mp4", 8, 8, 0, 0),
        "wide": letterbox(good, folder / "wide.mp4", 14, 14, 0, 0),
        "tff": interlace(v60, folder / "tff.mpg", "tff", *MPEG2_TFF, *AC3_PS),
        "pcm": ffmpeg_copy(good, folder / "pcm.avi", "-c:v", "mpeg4", "-c:a", "pcm_s16le"),
        "tiny": ffmpeg_copy(good, folder / "tiny.mp4", "-vf", "scale=12:12", "-c:v", "libx264"),
    }
    faststart = ffmpeg_copy(good, folder / "faststart.mp4", "-movflags", "+faststart")
    data = faststart.read_bytes()
    made["cut"] = folder / "cut.mp4"
    made["cut"].write_bytes(data[: int(len(data) * 0.6)])
    rows = ["id\tsource\ttype\tmodel"] + [f"{k}\t{v}\tanime\tbicubic" for k, v in made.items()]
    (folder / "archive.tsv").write_text("\n".join(rows) + "\n")
    return {**made, "manifest": folder / "archive.tsv"}


@pytest.fixture(scope="module")
def planned(titles, tmp_path_factory):
    out = tmp_path_factory.mktemp("plan") / "plan"
    started = time.perf_counter()
    result = run([*VSR, "plan", str(titles["manifest"]), "-o", str(out), "--config", *CONFIG],
                 out.parent)  # fmt: skip
    seconds = time.perf_counter() - started
    assert result.returncode == 1, result.stderr[-3000:]  # some titles are errors
    rows = {row["id"]: row for row in csv.DictReader((out / "plan.csv").open())}
    return out, rows, seconds, result.stdout


@pytest.fixture(scope="module")
def batched(titles, planned, tmp_path_factory):
    """`vsr batch` on the runnable titles and one the plan said would fail."""
    folder = tmp_path_factory.mktemp("batch")
    rows = ["id\tsource\ttype\tmodel"] + [
        f"{k}\t{titles[k]}\tanime\tbicubic" for k in ("boxed", "tff", "pcm")
    ]
    manifest = folder / "archive.tsv"
    manifest.write_text("\n".join(rows) + "\n")
    started = time.perf_counter()
    command = [*VSR, "batch", str(manifest), "-o", str(folder / "out"), "--chunk", "3",
               "--cores", "2", "--config", *CONFIG]  # fmt: skip
    result = run(command, folder)
    seconds = time.perf_counter() - started
    records = {r["id"]: r for r in csv.DictReader((folder / "out" / "archive.csv").open())}
    return folder / "out", records, seconds, result


def test_plan_flags_every_title_that_would_fail(planned):
    out, rows, _, stdout = planned
    assert {k: rows[k]["status"] for k in rows} == {
        "boxed": "ok",
        "tff": "ok",
        "wide": "review",
        "pcm": "error",
        "tiny": "error",
        "cut": "error",
    }
    assert "MP4 cannot hold the source's audio pcm_s16le" in rows["pcm"]["reason"]
    assert "too small" in rows["tiny"]["reason"]
    assert "truncated" in rows["cut"]["reason"]
    assert [row["status"] for row in rows.values()][:4] == ["error"] * 3 + ["review"]
    assert re.search(r"crop 96x\d+ removes 4\d% of the picture", rows["wide"]["reason"])
    for name in ("boxed", "tff", "wide", "pcm", "tiny", "cut"):
        assert (out / rows[name]["sheet"]).is_file(), name  # a damaged file shows what decodes
    assert "6 titles: 2 ok, 1 review, 3 error" in stdout


def test_plan_makes_the_run_decisions(planned):
    _, rows, _, _ = planned
    assert rows["boxed"]["crop"] == "96:48:0:8" and rows["boxed"]["size"] == "384x192"
    assert rows["tff"]["scan"] == "interlaced tff" and "bwdif" in rows["tff"]["fields"]
    assert rows["boxed"]["container"] == "mp4" and rows["boxed"]["frames"] == "48"
    assert float(rows["boxed"]["est_model_seconds"]) > 0


def test_batch_after_the_plan_hits_only_predicted_failures(planned, batched):
    _, plan, plan_s, _ = planned
    out, records, batch_s, result = batched
    # The plan's error is the batch's: refused by the same preflight, never run.
    assert (records["pcm"]["status"], records["pcm"]["stage"]) == ("failed", "preflight")
    assert records["pcm"]["reason"] == plan["pcm"]["reason"]
    for name in ("boxed", "tff"):
        assert records[name]["status"] == "done", (name, result.stdout, result.stderr[-2000:])
        for column in ("scan", "crop", "container"):
            assert records[name][column] == plan[name][column], (name, column)
    # A title's line as soon as it ends, and the status line with the archive's numbers.
    assert "pcm: failed at preflight: " in result.stdout and "[batch] " in result.stdout
    assert (out / "archive.html").is_file()
    print(f"plan {plan_s:.1f} s for 6 titles; batch {batch_s:.1f} s for 3 (bicubic)")


def test_pages_open_in_a_browser_with_their_pictures(planned, batched, page):
    plan_dir, _, _, _ = planned
    out, _, _, _ = batched
    for html, first, pictures in ((plan_dir / "plan.html", "error", 4),
                                  (out / "archive.html", "failed", 2)):  # fmt: skip
        page.goto(html.as_uri())
        page.wait_for_load_state("load")
        # The index comes first, one line per title, its first line the first card's title.
        assert page.evaluate("() => !!(document.getElementById('index').compareDocumentPosition("
                             "document.querySelector('div.title')) & 4)")  # fmt: skip
        assert first in page.locator("#index tbody tr").first.get_attribute("data-status")
        assert first in page.locator("div.title").first.get_attribute("class")
        ids = page.locator("#index tbody td:first-child").all_inner_texts()
        page.locator("#index th").first.click()  # sorted by id
        assert page.locator("#index tbody td:first-child").all_inner_texts() == sorted(ids)
        page.select_option("#status", first)  # the filter keeps only that status's lines
        shown = page.locator("#index tbody tr:not([hidden])").count()
        assert (
            shown
            == page.locator(f"div.title.{first}").count()
            == int(page.locator("#shown").inner_text())
        )
        # Pictures load as their card comes near (loading=lazy): scroll through every card.
        for card in page.locator("div.title").all():
            card.scroll_into_view_if_needed()
        page.wait_for_function(
            "n => [...document.images].filter(i => i.complete && i.naturalWidth > 0).length >= n",
            arg=pictures,
        )
        loaded = page.evaluate(
            "() => [...document.images].filter(i => i.complete && i.naturalWidth > 0).length"
        )
        assert loaded >= pictures, (html, loaded)
        assert page.locator("#counts").inner_text()


def test_manifest_columns_override_a_decision_and_plan_again(titles, tmp_path):
    manifest = tmp_path / "override.tsv"
    manifest.write_text(
        "id\tsource\ttype\tmodel\tcrop\tdeinterlace\n"
        f"boxed\t{titles['boxed']}\tanime\tbicubic\toff\t\n"
        f"tff\t{titles['tff']}\tanime\tbicubic\t\toff\n"
    )
    result = run([*VSR, "plan", str(manifest), "-o", "plan", "--config", *CONFIG], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["id"]: row for row in csv.DictReader((tmp_path / "plan" / "plan.csv").open())}
    assert rows["boxed"]["crop"] == "none" and rows["boxed"]["size"] == "384x256"
    assert rows["tff"]["fields"] == "none (progressive)"
