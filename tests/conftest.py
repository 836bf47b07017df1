"""Shared fixtures: real clips made from real photos, and one batch run of the whole workflow."""

from __future__ import annotations

import os
from functools import cache
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


# Tests that share a machine-wide resource run on one xdist worker, one after the other: the Slurm
# cluster (one slurm.conf per machine) and the AWS stand-ins (fixed ports). Every other test keeps
# its module's fixtures by staying with its module; the one batch run stays on one worker.
SHARED_RESOURCES = {
    "slurm": ("helpers.slurm", "slurm_cluster"),
    "aws": ("helpers.aws", "helpers.ui"),
}


@cache
def _resource_of(module_path: Path) -> str | None:
    text = module_path.read_text()
    return next(
        (name for name, marks in SHARED_RESOURCES.items() if any(m in text for m in marks)), None
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        path = Path(item.fspath)
        group = _resource_of(path) or ("batch" if "batch" in item.fixturenames else None)
        item.add_marker(
            pytest.mark.xdist_group(group or str(path.relative_to(Path(__file__).parent)))
        )
