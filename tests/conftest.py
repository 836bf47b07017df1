"""Shared fixtures: real clips made from real photos, and one batch run of the whole workflow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.workflow import CLIPS, SHARD_FRAMES, ffmpeg_copy, snakemake_batch, write_manifest

from vsr.media.sample import make_clip


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    made = {name: make_clip(folder / file, spec) for name, (file, spec) in CLIPS.items()}
    # An editor's cut: stream copy from mid-GOP leaves an MP4 edit list that hides frames the
    # file still stores (its index says 20 frames; players show fewer).
    made["trimmed"] = ffmpeg_copy(made["main"], folder / "trimmed.mp4", "-ss", "0.3", "-t", "0.4")
    # A QuickTime master: PCM audio (MKV needed) beside a mov_text track (which MKV cannot hold).
    made["pcm"] = ffmpeg_copy(
        made["main"],
        folder / "pcm.mov",
        "-map",
        "0:v",
        "-map",
        "0:a",
        "-map",
        "0:s",
        "-c:a",
        "pcm_s16le",
    )
    return made


@pytest.fixture(scope="session")
def batch(clips, tmp_path_factory):
    """One workflow run over every clip (one Snakemake start for all: the tests read its output)."""
    work = tmp_path_factory.mktemp("batch")
    manifest = write_manifest(
        work / "manifest.tsv", [(name, str(path), "anime") for name, path in clips.items()]
    )
    result, command = snakemake_batch(
        manifest, work / "results", f"shard_frames={SHARD_FRAMES}", cores=2
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return work / "results", command, work


@pytest.fixture(autouse=True, scope="session")
def _quiet_env():
    os.environ.setdefault("PYTHONWARNINGS", "ignore")


@pytest.hookimpl(optionalhook=True)  # a hook of xdist's: unknown where it is not loaded
def pytest_xdist_make_scheduler(config, log):
    """Workers share the tests by machine-wide resource and module (helpers.scheduling)."""
    from helpers.scheduling import ResourceScheduling

    return ResourceScheduling(config, log)
