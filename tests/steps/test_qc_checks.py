"""QC checks at step level on small real-photo clips: the scan check agrees with the decision (a
false "interlaced" call never blocks a progressive title; a woven output fails), and a failure
names every failed check in one line, most serious first, counts as counts and shares as shares."""

from __future__ import annotations

import pytest
from helpers.archive import ffmpeg
from helpers.scan_corpus import NTSC, X264, Camera, encode, mpeg2, progressive, woven

from vsr.steps.probe import write_probe
from vsr.steps.qc import check, failure_line
from vsr.util import write_json


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qc_checks")
    tiny = encode(progressive(Camera(), 190, 142, NTSC, 36), NTSC, folder / "tiny.mkv",
                  "-c:v", "ffv1")  # fmt: skip
    woven_clip = encode(woven(Camera(), 176, 144, NTSC, 36, "tff"), NTSC, folder / "woven.mpg",
                        *mpeg2(1))  # fmt: skip
    return folder, tiny, woven_clip


def test_false_interlaced_call_does_not_block_a_progressive_title(clips):
    folder, tiny, _ = clips
    plan = folder / "forced.json"
    info = write_probe(tiny, plan)
    info["picture"]["scan"]["type"] = "interlaced"  # as a wrong call would have planned it
    info["picture"]["fields"]["mode"] = "bwdif_frame"
    write_json(plan, info)
    out = folder / "tiny_out.mkv"
    ffmpeg("-i", str(tiny), "-vf", "scale=iw*4:ih*4:flags=lanczos", *X264, str(out))
    report = check(tiny, out, probe_json=str(plan))
    assert report["checks"]["scan"]["pass"], report["checks"]["scan"]
    assert report["checks"]["scan"]["measure"] == "field motion"


def test_progressive_call_only_needs_no_more_combing_than_the_source(clips):
    folder, tiny, _ = clips
    plan = folder / "auto.json"
    assert write_probe(tiny, plan)["picture"]["fields"]["mode"] == "none"
    out = folder / "tiny_nearest.mkv"
    ffmpeg("-i", str(tiny), "-vf", "scale=iw*4:ih*4:flags=neighbor", *X264, str(out))
    assert check(tiny, out, probe_json=str(plan))["passed"]


def test_every_failed_check_in_one_line_most_serious_first(clips):
    folder, _, source = clips
    broken = folder / "broken.mkv"  # not deinterlaced, and every other frame shown twice
    ffmpeg("-i", str(source), "-vf", "scale=iw*4:ih*4:flags=neighbor,fps=15000/1001,"
           "fps=30000/1001", *X264, str(broken))  # fmt: skip
    report = check(source, broken)
    assert report["failed"][:1] == ["scan"] and "frozen" in report["failed"], report["failed"]
    line = str(failure_line(broken, report))
    assert line.index("qc failed: scan ") < line.index("; frozen ")
    assert "of moving frames show fields from two instants" in line
    frozen = report["checks"]["frozen"]
    assert f"frozen {frozen['value']} repeated frames (" in line  # a count, then its share
    assert " of the duration) " in line and "(expected <= " in line
