"""A subset of the ground-truth scan corpus through the whole pipeline with the `bicubic` model:
the published output has the right frames and rate, is progressive at the source height, and is
at least as close to the known progressive truth as the source pictures were."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import numpy as np
import pytest
from helpers.scan_corpus import (
    FILM,
    NTSC,
    PAL,
    X264,
    Camera,
    encode,
    mpeg2,
    progressive,
    telecined,
    woven,
)
from helpers.workflow import VSR, run

from vsr.media.field_motion import combed_share
from vsr.steps.qc import check

pytestmark = pytest.mark.slow


def psnr(a, b) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-9)))


def upscale(source):
    out = source.with_name(source.stem + "_out.mp4")
    run([*VSR, "upscale", str(source), "-o", str(out), "--model", "bicubic", "--cores", "2"],
        cwd=source.parent)  # fmt: skip
    summary = json.loads(out.with_name(out.stem + ".summary.json").read_text())
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        rate = stream.average_rate
        frames = [f for f in c.decode(stream)]
    w, h = summary["probe"]["video"]["width"], summary["probe"]["video"]["height"]
    small = [
        f.reformat(width=w, height=h, format="gray", interpolation="AREA").to_ndarray()
        for f in frames
    ]
    return summary, small, Fraction(rate) if rate else None


def test_tiny_progressive_pan_is_published_untouched(tmp_path):
    """The case once called interlaced: a small odd-sized camera pan at 29.97."""
    truth = progressive(Camera(), 190, 142, NTSC, 36)
    source = encode(truth, NTSC, tmp_path / "tiny.mkv", "-c:v", "ffv1")
    summary, frames, _ = upscale(source)
    assert summary["probe"]["picture"]["scan"]["type"] == "progressive"
    assert summary["probe"]["picture"]["fields"]["mode"] == "none"
    assert summary["qc"]["passed"] and summary["review"] == []
    assert len(frames) == 36
    assert np.mean([psnr(a, t) for a, t in zip(frames, truth, strict=True)]) > 30


def test_interlaced_576i_is_deinterlaced_towards_the_truth(tmp_path):
    pan = Camera()
    woven_frames = woven(pan, 352, 288, PAL, 30, "bff")
    source = encode(woven_frames, PAL, tmp_path / "i576.mpg", *mpeg2(0))
    summary, frames, rate = upscale(source)
    assert summary["probe"]["picture"]["scan"]["type"] == "interlaced"
    assert summary["qc"]["passed"], summary["qc"]
    assert len(frames) == 30 and rate == 25
    share, decided = combed_share(frames)
    assert decided >= 12 and share <= 0.05
    truth = [pan.picture(i / 25, 352, 288) for i in range(30)]  # first (bottom) field instants
    ours = np.mean([psnr(a, t) for a, t in zip(frames, truth, strict=True)])
    woven_psnr = np.mean([psnr(a, t) for a, t in zip(woven_frames, truth, strict=True)])
    assert ours > woven_psnr, (ours, woven_psnr)


def test_mixed_title_is_published_with_film_frames_once(tmp_path):
    pan = Camera()
    film = progressive(pan, 320, 240, FILM, 48)
    video = woven(pan, 320, 240, NTSC, 40, "tff")
    source = encode(telecined(film) + video, NTSC, tmp_path / "mixed.mpg", *mpeg2(1))
    summary, frames, _ = upscale(source)
    assert summary["probe"]["picture"]["scan"]["type"] == "mixed"
    assert summary["qc"]["passed"], summary["qc"]
    # The record says where each section is, as planned and as field matching found it.
    scan_decision = summary["provenance"]["decisions"]["scan"]["value"]
    assert scan_decision.startswith("mixed: film 0.") and " s, video " in scan_decision, (
        scan_decision
    )
    assert [s["kind"] for s in summary["fields"]["sections"]] == ["film", "video"]
    assert abs(len(frames) - (48 + 40)) <= 1
    film_part = frames[: len(frames) - 40]
    assert sum(psnr(a, b) > 45 for a, b in zip(film_part, film_part[1:], strict=False)) <= 1
    best = [max(psnr(f, t) for t in film) for f in film_part]
    assert np.mean(best) > 28  # each output frame is one of the film frames
    # `vsr qc` on the pair alone (no plan) accepts the variable-rate frame count.
    assert check(source, source.with_name("mixed_out.mp4"))["checks"]["frames"]["pass"]


def test_hard_telecine_gives_film_frames_at_film_rate(tmp_path):
    film = progressive(Camera(), 176, 144, FILM, 40)
    source = encode(telecined(film), NTSC, tmp_path / "hard.mp4", *X264)  # flagged progressive
    summary, frames, rate = upscale(source)
    assert summary["probe"]["picture"]["scan"]["type"] == "hard_telecine"
    assert summary["qc"]["passed"] and summary["fps"] == "24000/1001"
    assert len(frames) == 40 and rate == FILM
    assert np.mean([psnr(a, t) for a, t in zip(frames, film, strict=True)]) > 30
