"""`vsr --help` and the dispatch come from one table: every user command is listed and reached."""

from __future__ import annotations

import csv
import re
import subprocess
import sys

import pytest

USER_COMMANDS = ["upscale", "batch", "plan", "models", "demo", "sample", "qc", "evaluate", "ui"]
USER_COMMANDS += ["watch"]
USER_COMMANDS += ["run-s3", "step"]


def vsr(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "vsr", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_help_lists_every_user_command_with_a_line_of_its_own():
    result = vsr("--help")
    listed = re.findall(r"^    (\S+) +\S", result.stdout, re.M)
    assert result.returncode == 0 and listed == USER_COMMANDS, result.stdout


@pytest.mark.parametrize("name", ["upscale", "batch", "evaluate", "run-s3"])
def test_each_command_answers_help_with_its_own_usage(name):
    result = vsr(name, "--help")
    assert result.returncode == 0 and f"usage: vsr {name}" in result.stdout, result.stdout


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One tiny clip and a manifest of two rows: one names its model, one does not."""
    from vsr.media.sample import ClipSpec, make_clip

    folder = tmp_path_factory.mktemp("cli")
    clip = make_clip(folder / "tiny.mp4", ClipSpec(width=48, height=32, frames=4))
    manifest = folder / "archive.tsv"
    manifest.write_text(
        f"id\tsource\ttype\tmodel\nown\t{clip}\tanime\trealesr-animevideov3\nnone\t{clip}\tanime\t\n"
    )
    return folder, clip, manifest


@pytest.mark.parametrize(
    ("command", "given"),
    [
        (["batch", "{manifest}", "-o", "{out}"], ["--latency-wait", "5"]),
        (["plan", "{manifest}", "-o", "{out}"], ["--shard-frames", "4"]),
        (["upscale", "{clip}", "-o", "{out}/x.mp4"], ["--chunk", "2"]),
        (["batch", "{manifest}", "-o", "{out}"], ["--cores", "0"]),
    ],
)
def test_an_option_a_command_does_not_take_is_refused_at_once(tiny, command, given):
    folder, clip, manifest = tiny
    out = folder / "refused"
    filled = [a.format(manifest=manifest, clip=clip, out=out) for a in command]
    result = vsr(*filled, *given)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("vsr: error: "), result
    assert given[0] in result.stderr and not out.exists()  # nothing ran, nothing written


def test_plan_model_is_the_default_for_rows_that_name_none(tiny):
    folder, clip, manifest = tiny
    result = vsr("plan", str(manifest), "-o", str(folder / "plan"), "--model", "bicubic")
    assert result.returncode == 0, result.stderr
    rows = {r["id"]: r for r in csv.DictReader((folder / "plan" / "plan.csv").open())}
    assert (rows["own"]["model"], rows["none"]["model"]) == ("realesr-animevideov3", "bicubic")
    assert float(rows["none"]["est_model_seconds"]) < float(rows["own"]["est_model_seconds"])
    # A file given, not a manifest: --model and --type are its own.
    result = vsr("plan", str(clip), "-o", str(folder / "one"), "--model", "bicubic")
    assert result.returncode == 0, result.stderr
    (row,) = csv.DictReader((folder / "one" / "plan.csv").open())
    assert row["model"] == "bicubic"


def test_batch_refuses_an_unknown_model_before_any_run(tiny):
    folder, _, manifest = tiny
    out = folder / "unknown-model"
    result = vsr("batch", str(manifest), "-o", str(out), "--model", "esrgan-9000")
    assert result.returncode == 2 and "esrgan-9000" in result.stderr and "row 3" in result.stderr
    assert not out.exists()


def test_plan_size_follows_upscale_scale_and_every_config_flag_applies(tiny):
    folder, clip, _ = tiny
    out = folder / "scale2"
    result = vsr("plan", str(clip), "-o", str(out), "--model", "bicubic",
                 "--config", "upscale.scale=2", "--config", "encode.preset=veryfast")  # fmt: skip
    assert result.returncode == 0, result.stderr
    (row,) = csv.DictReader((out / "plan.csv").open())
    assert row["size"] == "96x64"
