"""Preflight: what the source and the options tell fails in seconds, before any upscaling; the
documented dotted config keys; provenance in summary.json and in the output file's tags."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from helpers.workflow import VSR, run

from vsr.errors import VsrError
from vsr.media.sample import ClipSpec, make_clip
from vsr.workflow.config import check_config, effective_config, parse_items, snakemake_items


@pytest.fixture(scope="module")
def masters(tmp_path_factory):
    """DV-style AVI with PCM audio and an MPEG-PS with MP2 audio: what archives hold."""
    folder = tmp_path_factory.mktemp("masters")
    base = make_clip(folder / "base.mp4", ClipSpec(width=64, height=48, frames=8))
    made = {}
    for name, options in {
        "pcm.avi": ["-c:v", "mpeg4", "-c:a", "pcm_s16le"],
        "ps.mpg": ["-c:v", "mpeg2video", "-c:a", "mp2", "-f", "vob"],
    }.items():
        command = ["ffmpeg", "-v", "error", "-i", str(base), "-map", "0:v", "-map", "0:a"]
        subprocess.run([*command, *options, str(folder / name)], check=True, timeout=60)
        made[name] = folder / name
    return made


def probe_tags(path) -> dict[str, str]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {k.lower(): v for k, v in json.loads(out)["format"].get("tags", {}).items()}


@pytest.mark.parametrize("name", ["pcm.avi", "ps.mpg"])
def test_audio_mp4_cannot_hold_is_refused_before_any_work(tmp_path, masters, name):
    started = time.perf_counter()
    result = run(
        [*VSR, "upscale", str(masters[name]), "-o", "x.mp4", "--model", "bicubic"], tmp_path
    )
    seconds = time.perf_counter() - started
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("vsr: error: x.mp4: MP4 cannot hold the source's audio"), line
    assert "audio=reencode" in line and "work/" not in line and "results/" not in line
    assert seconds < 15, seconds  # the Python start-up and one probe, no workflow
    assert not list(tmp_path.glob(".vsr-work-*")) and not (tmp_path / "x.mp4").exists()


def test_reencoded_audio_run_carries_provenance_in_file_and_summary(tmp_path, masters):
    out = tmp_path / "x.mp4"
    command = [*VSR, "upscale", str(masters["pcm.avi"]), "-o", str(out), "--model", "bicubic"]
    command += ["--config", "audio=reencode", "output.size=128x96", "encode.crf=30"]
    result = run(command, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    streams = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of",
         "json", str(out)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    codecs = [s["codec_name"] for s in json.loads(streams)["streams"]]
    assert codecs == ["h264", "aac"]
    assert json.loads(streams)["streams"][0]["width"] == 128  # output.size took effect
    tag = probe_tags(out)["comment"]
    # 128x96 is twice the source: x2 ran, and the tag and the summary say so.
    assert tag.startswith("vsr 0.1.0") and "model bicubic-x2 x2;" in tag and "no GAN" in tag
    summary = json.loads((tmp_path / "x.summary.json").read_text())
    provenance = summary["provenance"]
    assert (provenance["model"]["name"], provenance["model"]["scale"]) == ("bicubic-x2", 2)
    assert provenance["tool"]["version"] == "0.1.0"
    assert provenance["model"]["synthesises_detail"] is False
    assert provenance["settings"]["encode"]["crf"] == 30
    assert provenance["settings"]["audio"] == "reencode"
    assert provenance["decisions"]["size"]["value"] == "128x96"
    assert provenance["decisions"]["scan"]["value"] == "progressive"


def test_mkv_output_carries_the_provenance_tag(tmp_path, masters):
    out = tmp_path / "x.mkv"
    command = [*VSR, "upscale", str(masters["ps.mpg"]), "-o", str(out), "--model", "bicubic"]
    result = run([*command, "--config", "shard_frames=4"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    tag = probe_tags(out)["comment"]
    assert tag.startswith("vsr 0.1.0") and "model bicubic x4; weights none; no GAN" in tag
    summary = json.loads((tmp_path / "x.summary.json").read_text())
    assert summary["provenance"]["decisions"]["container"]["value"] == "mkv"
    assert summary["provenance"]["settings"]["shard_frames"] == 4


def test_batch_outputs_carry_provenance_mp4_and_mkv(batch):
    results, _, _ = batch
    seen = set()
    for summary_path in sorted(results.glob("*/summary.json")):
        summary = json.loads(summary_path.read_text())
        output = summary["output"]
        tag = probe_tags(output)["comment"]
        model = summary["provenance"]["model"]
        assert f"model {model['name']} x4" in tag, (output, tag)
        assert f"sha256:{model['weights_sha256'][:16]}" in tag
        assert model["synthesises_detail"] is True and len(model["weights_sha256"]) == 64
        assert model["licence"] == "BSD-3-Clause"
        assert "scan" in summary["provenance"]["decisions"]
        seen.add(output.rsplit(".", 1)[1])
    assert seen == {"mp4", "mkv"}


def test_dotted_keys_are_typed_by_the_schema():
    items = [
        "output.size=3840x2160",
        "output.aspect=square",
        "encode.crf=20",
        "upscale.batch_size=4",
    ]
    config = effective_config(parse_items(items))
    check_config({**config, "manifest": "m", "results": "r"})
    assert config["output"] == {"size": "3840x2160", "aspect": "square"}
    assert config["encode"]["crf"] == 20 and config["upscale"]["batch_size"] == 4
    assert config["encode"]["preset"] == "medium"  # the rest of the section stays
    assert (
        snakemake_items(parse_items(items))["output"] == '{"size": "3840x2160", "aspect": "square"}'
    )
    for bad, words in (("encode.crf=abc", "config encode.crf"), ("output.sise=1", "unknown key")):
        with pytest.raises(VsrError, match=words):
            check_config({**effective_config(parse_items([bad])), "manifest": "m", "results": "r"})


def test_dotted_key_errors_before_any_work(tmp_path, masters):
    command = [
        *VSR,
        "upscale",
        str(masters["pcm.avi"]),
        "-o",
        "x.mkv",
        "--config",
        "encode.crf=abc",
    ]
    result = run(command, tmp_path)
    assert result.returncode == 2
    assert "config encode.crf: 'abc' is not of type 'integer'" in result.stderr
