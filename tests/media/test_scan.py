"""Scan type and bars measured on real-photo pans made into archive variants with FFmpeg:
interlaced TFF/BFF (MPEG-2 PS with AC-3, MXF with PCM, DV AVI), hard telecine (MPEG-2 PS, MXF),
soft telecine (repeat-field flags), progressive ProRes MOV, letterbox and pillarbox."""

from __future__ import annotations

import pytest
from helpers.archive import letterbox, variants

from vsr.media.bars import detect
from vsr.media.probe import probe
from vsr.media.scan import scan


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return variants(tmp_path_factory.mktemp("archive"))


@pytest.mark.parametrize(
    ("name", "kind", "order"),
    [
        ("tff_ps", "interlaced", "tff"),
        ("tff_mxf", "interlaced", "tff"),
        ("bff_ps", "interlaced", "bff"),
        ("bff_dv", "interlaced", "bff"),
        ("hard_ps", "hard_telecine", "tff"),
        ("hard_mxf", "hard_telecine", "tff"),
        ("soft_ps", "soft_telecine", None),
        ("prog_mov", "progressive", None),
        ("v60", "progressive", None),
    ],
)
def test_scan_type_is_measured_from_the_pictures(archive, name, kind, order):
    info = probe(archive[name])
    result = scan(archive[name], info["video"])
    assert result["type"] == kind, result["evidence"]
    if order:
        assert result["field_order"] == order
    totals = result["evidence"]["totals"]
    assert totals["frames"] >= 20  # evidence: counts, recorded in probe.json


def test_flags_that_lie_do_not_decide(archive, tmp_path):
    """Interlaced pictures stored as 'progressive' (a common mastering error) are still found."""
    from helpers.archive import ffmpeg

    lying = tmp_path / "lying.mkv"
    ffmpeg("-i", str(archive["tff_ps"]), "-vf", "setfield=prog", "-c:v", "ffv1", "-an", str(lying))
    assert scan(lying, probe(lying)["video"])["type"] == "interlaced"


@pytest.mark.parametrize(
    ("bars", "sar"),
    [
        ((16, 14, 0, 0), "1"),
        ((0, 0, 20, 20), "1"),
        ((12, 12, 0, 0), "8/9"),
        ((0, 0, 24, 16), "32/27"),
    ],
)
def test_bars_are_found_within_2_px(archive, tmp_path, bars, sar):
    top, bottom, left, right = bars
    out = letterbox(archive["film"], tmp_path / "boxed.mp4", top, bottom, left, right, sar)
    info = probe(out)
    found = detect(out, info["video"])
    measured = found["bars"]
    for side, want in zip(("top", "bottom", "left", "right"), bars, strict=True):
        assert abs(measured[side] - want) <= 2, (side, measured, bars)
    box = found["crop"]
    assert abs(box["w"] - (160 - left - right)) <= 2 and abs(box["h"] - (120 - top - bottom)) <= 2


def test_no_bars_no_crop(archive):
    assert detect(archive["film"], probe(archive["film"])["video"])["crop"] is None
