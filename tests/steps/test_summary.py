"""The `summary` step: the probe, frames, shards and per-stage times summed over their jobs."""

from __future__ import annotations

from helpers.steps import CLIP, MODEL

from vsr.steps.summary import collect_timings
from vsr.util import read_json, write_json


def test_summary_names_the_output_and_counts(chain):
    summary = read_json(chain.video.summary)
    assert (summary["id"], summary["model"], summary["frames"]) == ("clip", MODEL, CLIP.frames)
    assert summary["shards"] == len(chain.names) and summary["fps"] == CLIP.rate
    assert summary["output_bytes"] == chain.final.stat().st_size
    stages = summary["stages"]
    assert set(stages) == {"upscale", "encode", "assemble"}  # the steps given a timing file
    assert stages["upscale"]["jobs"] == stages["encode"]["jobs"] == len(chain.names)
    assert stages["upscale"]["frames"] == CLIP.frames


def test_timings_are_summed_per_stage(tmp_path):
    records = [
        {"step": "upscale", "seconds": 2.0, "cpu_seconds": 3.0, "frames": 10, "peak_rss_mb": 50},
        {"step": "upscale", "seconds": 3.0, "cpu_seconds": 1.0, "frames": 15, "peak_rss_mb": 80},
        {"step": "probe", "seconds": 0.5},
    ]
    paths = []
    for number, record in enumerate(records):
        paths.append(str(tmp_path / f"{number}.json"))
        write_json(paths[-1], record)
    stages = collect_timings(paths)
    assert list(stages) == ["probe", "upscale"]  # in pipeline order
    upscale = stages["upscale"]
    assert (upscale["seconds"], upscale["cpu_seconds"], upscale["jobs"]) == (5.0, 4.0, 2)
    assert (upscale["frames"], upscale["fps"], upscale["peak_rss_mb"]) == (25, 5.0, 80)
