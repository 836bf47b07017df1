"""`make bench` on a tiny clip: every run works, and the like-for-like claim holds.

The speed figures themselves come from `make bench` on a quiet machine (docs/performance.md);
here only what can fail regardless of load is asserted: the FLOP count of a known architecture,
and that the pipeline's output equals the per-frame baseline's (same model, same conversion,
same encoder settings and threads) to >= 45 dB PSNR.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vsr.measure import bench, bench_cost, bench_report, bench_runs

ANIME = "realesr-animevideov3"


def test_flops_per_frame_match_the_architecture():
    # SRVGGNetCompact: 3->64 conv, 16 convs 64->64, 64->48 conv (3x3, at input resolution).
    multiply_adds_per_pixel = 9 * (3 * 64 + 16 * 64 * 64 + 64 * 48)
    assert bench_cost.model_flops(ANIME, 36, 64) == 2 * multiply_adds_per_pixel * 36 * 64


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory) -> dict:
    plan = bench.Plan(ANIME, 64, 36, frames=12, repeats=1)
    return bench.bench_model(plan, tmp_path_factory.mktemp("bench"), threads=2)


def test_every_run_reports_a_speed(tiny_bench: dict):
    assert set(tiny_bench["fps"]) == set(bench_runs.RUNS)
    assert all(fps > 0 for fps in tiny_bench["fps"].values())
    assert tiny_bench["pipeline_steps_s"]["upscale"] > 0
    cpu = tiny_bench["cpu_s"]  # the pipeline's whole process tree does more than the model
    assert 0 < cpu["model_only"] < cpu["pipeline"]
    assert tiny_bench["pipeline_steps_s"]["upscale_cpu"] > 0
    assert set(tiny_bench["ratios"]) == {
        "pipeline_vs_model_only",
        "pipeline_vs_per_frame",
        "upscale_loop_vs_model_only",
    }


def test_pipeline_output_is_the_per_frame_baselines(tiny_bench: dict):
    quality = tiny_bench["quality"]
    # Same model and RGB -> YUV conversion: only float summation order differs (a few 1-level
    # flips), so what each side hands its encoder is the same picture.
    assert quality["psnr_encoder_input_db"] >= 60
    # Same encoder settings and threads: both finals are equally far from the model's output.
    ours, theirs = (quality[f"psnr_{side}_final_vs_model_db"] for side in ("pipeline", "per_frame"))
    assert abs(ours - theirs) <= 0.3


def test_plot_and_summary(tiny_bench: dict, tmp_path: Path, capsys):
    backends = [{"model": ANIME, "frames": 12, "fps": {"torch-nchw": 1.0, "torch": 1.1}}]
    results = {"models": [tiny_bench], "backends": backends, "gpu": []}
    bench_report.plot(results, tmp_path / "results.png")
    assert (tmp_path / "results.png").stat().st_size > 10_000
    bench_report.print_summary(results)
    printed = capsys.readouterr().out
    assert "pipeline_vs_per_frame" in printed and "1.10x eager NCHW" in printed
