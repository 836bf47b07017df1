"""End to end on archive masters (real model, tiny clips): inverse telecine and deinterlacing
through the whole workflow, anamorphic pixels made square, a QC verdict per title, and broken
outputs failing QC with the right check named."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction

import av
import numpy as np
import pytest
from helpers.archive import AC3_PS, MPEG2_TFF, base_clip, ffmpeg, hard_telecine
from helpers.media import beep_times, ffprobe, flash_times, streams_of
from helpers.workflow import VSR, run

from vsr.errors import VsrError
from vsr.steps.qc import check, qc_step

pytestmark = pytest.mark.slow


def idet_share(path, height) -> tuple[float, float]:
    """Debian FFmpeg's idet on the output scaled back to the source height: single and multi-frame
    shares of frames called interlaced."""
    log = subprocess.run(
        ["ffmpeg", "-v", "info", "-i", str(path), "-an", "-vf",
         f"scale=-2:{height}:flags=area,idet", "-f", "null", "-"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stderr  # fmt: skip
    shares = []
    for kind in ("Single", "Multi"):
        line = next(x for x in log.splitlines() if f"{kind} frame detection" in x)
        tff, bff, prog, und = [int(t) for t in line.replace(":", " ").split() if t.isdigit()][-4:]
        shares.append((tff + bff) / max(1, tff + bff + prog + und))
    return shares[0], shares[1]


def upscale(source, out, *config):
    extra = ["--config", *config] if config else []
    run([*VSR, "upscale", str(source), "-o", str(out), "--type", "anime", "--cores", "2", *extra],
        cwd=out.parent)  # fmt: skip
    return out, json.loads(out.with_name(out.stem + ".summary.json").read_text())


@pytest.fixture(scope="module")
def telecined(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ivtc")
    film = base_clip(folder, "film", width=128, height=96, frames=40, rate="24000/1001")
    source = hard_telecine(film, folder / "hard.mpg", *MPEG2_TFF, *AC3_PS)
    out, summary = upscale(source, folder / "out.mp4")
    return film, source, out, summary


@pytest.fixture(scope="module")
def interlaced(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interlaced")
    v60 = base_clip(folder, "v60", width=128, height=96, frames=60, rate="60000/1001")
    source = folder / "tff_anamorphic.mpg"
    ffmpeg("-i", str(v60), "-vf", "tinterlace=interleave_top,setfield=tff,setdar=16/9",
           *MPEG2_TFF, *AC3_PS, str(source))  # fmt: skip
    out, summary = upscale(source, folder / "out.mkv", "output={aspect: square}")
    return source, out, summary


def test_inverse_telecine_restores_film_frames_in_sync(telecined):
    film, source, out, summary = telecined
    assert summary["qc"]["passed"], summary["qc"]
    assert summary["probe"]["picture"]["scan"]["type"] == "hard_telecine"
    video = streams_of(ffprobe(out), "video")[0]
    assert video["r_frame_rate"] == "24000/1001"
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    with av.open(str(film)) as c:
        originals = [f.to_ndarray(format="gray").astype(float) for f in c.decode(video=0)]
    assert len(frames) == len(originals) == 40
    small = [
        np.asarray(
            av.VideoFrame.from_ndarray(f, format="gray")
            .reformat(width=128, height=96, interpolation="AREA")
            .to_ndarray(),
            dtype=float,
        )
        for f in frames
    ]
    for i, frame in enumerate(small):
        errors = [np.mean((frame - o) ** 2) for o in originals[max(0, i - 1) : i + 2]]
        assert int(np.argmin(errors)) == (1 if i else 0), (i, errors)
    assert max(idet_share(out, 96)) < 0.05
    # Sync: beep-to-flash offsets as in the original film (the telecined master's AC-3 was
    # encoded from its audio; the copied audio and the restored film frames keep source time).
    expected = np.subtract(beep_times(film), flash_times(film))
    measured = np.subtract(beep_times(out), flash_times(out))
    assert len(measured) == 2 and np.allclose(measured, expected, atol=0.002), (measured, expected)


def test_interlaced_anamorphic_comes_out_progressive_and_square(interlaced):
    source, out, summary = interlaced
    assert summary["qc"]["passed"], summary["qc"]
    assert summary["probe"]["picture"]["scan"]["type"] == "interlaced"
    video = streams_of(ffprobe(out), "video")[0]
    # 128x96 anamorphic 16:9 (SAR 4:3; MPEG-2 stores only 4:3/16:9 display aspects) -> 512x384
    # at 4x -> square pixels, height kept: 682.7 -> 682 x 384.
    assert (video["width"], video["height"]) == (682, 384)
    assert video.get("sample_aspect_ratio", "1:1") in {"1:1", "0:1"}
    dar = Fraction(16, 9)
    assert abs(video["width"] / video["height"] / float(dar) - 1) < 0.005
    assert summary["frames"] == 30
    assert max(idet_share(out, 96)) < 0.05
    assert [s["codec_name"] for s in streams_of(ffprobe(out), "audio")] == ["ac3"]
    for name, c in summary["qc"]["checks"].items():
        assert c["pass"], name


@pytest.mark.parametrize(
    ("name", "options"),
    [
        # No deinterlacing: the 4x picture keeps its (magnified) combs.
        ("scan", ["-vf", "scale=iw*4:ih*4:flags=neighbor", "-c:a", "copy"]),
        ("streams", ["-vf", "yadif,scale=iw*4:ih*4", "-an"]),
        (
            "frames",
            [
                "-vf",
                "yadif,select='gte(n,3)',setpts=PTS-STARTPTS+0.5/TB,scale=iw*4:ih*4",
                "-c:a",
                "copy",
            ],
        ),  # fmt: skip
        ("aspect", ["-vf", "yadif,scale=iw*4:ih*4,setsar=1", "-c:a", "copy"]),  # SAR dropped
    ],
)
def test_broken_output_fails_qc_naming_the_check(interlaced, tmp_path, name, options):
    source, _, _ = interlaced
    broken = tmp_path / "broken.mkv"
    ffmpeg("-i", str(source), *options, "-c:v", "libx264", "-crf", "18", str(broken))
    report = check(source, broken)
    assert name in report["failed"], report
    final = tmp_path / "final.mkv"
    with pytest.raises(VsrError) as error:
        qc_step(str(source), str(broken), str(final), str(tmp_path / "qc.json"))
    assert "qc " in str(error.value) and " failed: " in str(error.value)
    assert not final.exists()  # nothing published
    cli = subprocess.run([*VSR, "qc", str(source), str(broken)], capture_output=True, text=True)
    assert cli.returncode == 2
    line = cli.stderr.strip().splitlines()[-1]
    assert line.startswith(f"vsr: error: {broken}: qc ") and " failed: " in line


def test_vsr_qc_passes_a_good_pair(interlaced):
    source, out, _ = interlaced
    assert check(source, out)["passed"]
