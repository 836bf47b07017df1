"""Field handling before the model, measured on the shards the split step writes (no model):
deinterlaced pictures are progressive by idet, inverse telecine restores the film frames at exactly
24000/1001, field rate doubles the frames, and the output shape gives exact sizes."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from helpers.archive import variants

from vsr.media.picture import output_geometry
from vsr.media.scan import combed_share
from vsr.steps.probe import write_probe
from vsr.steps.split import split


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return variants(tmp_path_factory.mktemp("archive"))


def split_with(source, tmp_path, **settings):
    probe_json = tmp_path / "probe.json"
    info = write_probe(source, probe_json, settings)
    index = split(str(source), str(probe_json), str(tmp_path / "shards"), 16)
    frames = []
    for shard in index["shards"]:
        with av.open(str(tmp_path / "shards" / f"{shard['name']}.mkv")) as c:
            frames += [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    pts = [p for shard in index["shards"] for p in shard["pts"]]
    return info, index, frames, pts


def grey_frames(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="gray") for f in c.decode(video=0)]


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255**2 / max(mse, 1e-9))


@pytest.mark.parametrize("name", ["tff_ps", "tff_mxf", "bff_ps", "bff_dv"])
def test_deinterlaced_frames_are_progressive(archive, tmp_path, name):
    _, _, combed, _ = split_with(archive[name], tmp_path / "off", deinterlace="off")
    info, index, frames, pts = split_with(archive[name], tmp_path / "auto")
    assert info["picture"]["fields"]["mode"] == "bwdif_frame"
    assert index["frames"] == len(frames) == 30  # frame rate kept: one frame per frame
    assert combed_share(combed) > 0.5  # the source is combed...
    assert combed_share(frames) < 0.05  # ...the pictures given to the model are not


def test_field_rate_doubles_frames_with_exact_timestamps(archive, tmp_path):
    info, index, frames, pts = split_with(archive["tff_ps"], tmp_path, deinterlace="field")
    assert index["frames"] == len(frames) == 60
    assert index["fields"]["frame_rate"] == "60000/1001"
    step = Fraction(index["time_base"]) * np.diff(pts)
    assert set(step) == {Fraction(1001, 60000)}
    assert combed_share(frames) < 0.05


@pytest.mark.parametrize("name", ["hard_ps", "hard_mxf", "soft_ps"])
def test_inverse_telecine_gives_the_film_frames_at_24000_1001(archive, tmp_path, name):
    info, index, frames, pts = split_with(archive[name], tmp_path)
    assert info["picture"]["fields"]["mode"] in {"ivtc", "soft_retime"}
    film = grey_frames(archive["film"])
    assert len(frames) == len(film) == 40
    assert index["fields"]["frame_rate"] == "24000/1001"
    # Exact timestamps: every step is 1001/24000 s, from the source's first video timestamp.
    times = [p * Fraction(index["time_base"]) for p in pts]
    assert set(np.diff(times)) == {Fraction(1001, 24000)}
    with av.open(str(archive[name])) as c:
        first = next(c.decode(video=0))
        assert times[0] == first.pts * first.time_base
    # Each output frame matches its own film frame better than the film frames next to it.
    for i, frame in enumerate(frames):
        own = psnr(frame, film[i])
        for j in (i - 1, i + 1):
            if 0 <= j < len(film):
                assert own > psnr(frame, film[j]) + 3, (i, j)
        assert own > 30, (i, own)
    assert combed_share(frames) < 0.05


def geometry(width, height, sar, settings, scale=4, crop=None):
    video = {"width": width, "height": height, "sample_aspect_ratio": sar, "rotation": 0}
    picture = {"settings": settings, "crop": crop}
    if crop:
        picture.update(width=crop["w"], height=crop["h"])
    pw, ph = (crop["w"], crop["h"]) if crop else (width, height)
    return output_geometry({"video": video, "picture": picture}, pw * scale, ph * scale)


@pytest.mark.parametrize(
    ("sar", "settings", "size", "out_sar"),
    [
        ("8/9", {"aspect": "keep"}, (2880, 1920), Fraction(8, 9)),  # NTSC 4:3: SAR carried
        ("8/9", {"aspect": "square"}, (2560, 1920), 1),
        ("32/27", {"aspect": "square"}, (3414, 1920), 1),  # NTSC 16:9
        ("8/9", {"aspect": "square", "size": "1920x1080"}, (1440, 1080), 1),
        ("32/27", {"aspect": "square", "size": "1920x1080"}, (1920, 1080), 1),
        ("32/27", {"aspect": "square", "size": "3840x2160"}, (3840, 2160), 1),
        ("8/9", {"aspect": "keep", "size": "1920x1080"}, (1620, 1080), Fraction(8, 9)),
    ],
)
def test_output_shape_exact_sizes_and_display_aspect(sar, settings, size, out_sar):
    g = geometry(720, 480, sar, settings)
    assert (g["width"], g["height"]) == size
    assert g["sar"] == out_sar
    dar = Fraction(720) * Fraction(sar) / 480
    assert abs(float(g["width"] * g["sar"] / g["height"] / dar) - 1) < 0.005


def test_cropped_bars_can_be_padded_back():
    crop = {"w": 720, "h": 360, "x": 0, "y": 60}
    kept = geometry(720, 480, "1/1", {"aspect": "keep"}, crop=crop)
    assert (kept["width"], kept["height"], kept["pad"]) == (2880, 1440, None)
    padded = geometry(720, 480, "1/1", {"aspect": "keep", "crop_pad": True}, crop=crop)
    assert padded["pad"] == {"w": 2880, "h": 1920, "x": 0, "y": 240}
    assert (padded["width"], padded["height"]) == (2880, 1920)


def test_letterbox_is_cropped_before_the_model(archive, tmp_path):
    from helpers.archive import letterbox

    boxed = letterbox(archive["film"], tmp_path / "boxed.mp4", 16, 14, 0, 0)
    info, index, frames, _ = split_with(boxed, tmp_path)
    assert info["picture"]["crop"] == {"w": 160, "h": 90, "x": 0, "y": 16}
    assert (index["width"], index["height"]) == (160, 90)
    assert frames[0].shape == (90, 160)
    assert frames[0][:2].mean() > 20 and frames[0][-2:].mean() > 20  # no bar rows left


def test_mixed_title_is_handled_section_by_section(tmp_path):
    """Telecined film, then interlaced video: the film section gives each film frame once (the
    pulldown repeat dropped, frames keep their source times), the video section is deinterlaced
    frame by frame, as good as bwdif alone (within 1 dB of the truth's PSNR)."""
    from helpers.scan_corpus import FILM, NTSC, Camera, encode, mpeg2, progressive, telecined, woven

    pan = Camera()
    film = telecined(progressive(pan, 320, 240, FILM, 96))  # 120 frames, 96 film frames
    video = woven(pan, 320, 240, NTSC, 60, "tff")
    source = encode(film + video, NTSC, tmp_path / "mixed.mpg", *mpeg2(1))
    info, index, frames, pts = split_with(source, tmp_path / "auto")
    assert info["picture"]["scan"]["type"] == "mixed"
    assert abs(index["frames"] - (96 + 60)) <= 1
    # Where field matching found the boundary: after 120 telecined frames, to within a cycle.
    sections = index["fields"]["sections"]
    assert [s["kind"] for s in sections] == ["film", "video"], sections
    start = sections[0]["start_s"]
    assert sections[1]["start_s"] - start == pytest.approx(120 * 1001 / 30000, abs=5 * 1001 / 30000)
    assert sections[1]["end_s"] - start == pytest.approx(180 * 1001 / 30000, abs=0.01)
    film_part, video_part = frames[: len(frames) - 60], frames[-60:]
    repeats = sum(1 for a, b in zip(film_part, film_part[1:], strict=False) if psnr(a, b) > 45)
    assert repeats <= 1  # film frames once each
    step = np.diff(pts[-60:])
    assert set(step.tolist()) == {3003}  # video frames at their frame times
    _, _, bwdif_only, _ = split_with(source, tmp_path / "frame", deinterlace="frame")
    truth = [pan.picture(float(i / NTSC), 320, 240) for i in range(60)]  # first fields
    ours = np.mean([psnr(a, t) for a, t in zip(video_part, truth, strict=True)])
    reference = np.mean([psnr(a, t) for a, t in zip(bwdif_only[-60:], truth, strict=True)])
    assert ours >= reference - 1.0 and reference > 25, (ours, reference)
