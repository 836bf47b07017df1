"""End to end: real clips through the real workflow and model; outputs measured with ffprobe."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from helpers.media import (
    beep_times,
    count_frames,
    downscale,
    ffprobe,
    flash_times,
    psnr,
    rate_of,
    streams_of,
    video_frames,
)
from helpers.workflow import CLIPS, SHARD_FRAMES, run

pytestmark = pytest.mark.slow


def final(results, name, ext="mp4"):
    path = results / name / f"final.{ext}"
    assert path.is_file(), f"missing {path}"
    return path


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_frame_count_size_and_duration(batch, clips, name):
    results, _, _ = batch
    ext = "mkv" if name == "ntsc" else "mp4"  # only ntsc carries SubRip, which MP4 cannot hold
    out = final(results, name, ext)
    src_info, out_info = ffprobe(clips[name]), ffprobe(out)
    src_v, out_v = streams_of(src_info, "video")[0], streams_of(out_info, "video")[0]
    assert count_frames(out) == count_frames(clips[name]) == CLIPS[name][1].frames
    width, height = src_v["width"], src_v["height"]
    if name == "rotated":
        width, height = height, width
    assert (out_v["width"], out_v["height"]) == (4 * width, 4 * height)
    frame_s = 1 / float(rate_of(src_v))
    src_times, _ = video_frames(clips[name])
    out_times, _ = video_frames(out)
    # Every frame is shown at its source time (1 ms: Matroska's timestamp precision).
    assert np.allclose(out_times, src_times, atol=0.0011), (out_times, src_times)
    out_duration = float(out_v.get("duration") or out_info["format"]["duration"])
    src_duration = float(src_v.get("duration") or src_info["format"]["duration"])
    assert abs(out_duration - src_duration) <= frame_s


def test_edit_list_cut_gives_the_frames_players_show(batch, clips):
    results, _, _ = batch
    shown = count_frames(clips["trimmed"])  # ffprobe decodes: what a player shows
    assert shown < int(streams_of(ffprobe(clips["trimmed"]), "video")[0]["nb_frames"])
    out = final(results, "trimmed")
    assert count_frames(out) == shown
    src_times, _ = video_frames(clips["trimmed"])
    out_times, _ = video_frames(out)
    assert np.allclose(out_times, src_times, atol=0.0011)


def test_pcm_master_goes_to_mkv_with_its_audio_in_sync(batch, clips):
    results, _, _ = batch
    out = final(results, "pcm", "mkv")
    info = ffprobe(out)
    assert [s["codec_name"] for s in streams_of(info, "audio")] == ["pcm_s16le"]
    assert streams_of(info, "subtitle") == []  # mov_text has no Matroska form: dropped, logged
    assert count_frames(out) == count_frames(clips["pcm"])
    assert_sync(clips["pcm"], out)


def test_frames_are_the_source_frames_upscaled(batch, clips):
    """Each output frame, scaled back down, matches its own source frame best (no off-by-one)."""
    results, _, _ = batch
    _, src = video_frames(clips["main"])
    _, out = video_frames(final(results, "main"))
    size = (src[0].shape[1], src[0].shape[0])
    small = [downscale(f, size) for f in out]
    for i in range(1, len(src) - 1):
        scores = [psnr(small[i], src[j]) for j in (i - 1, i, i + 1)]
        assert scores[1] > 24, f"frame {i}: {scores}"
        if src[i].mean() < 235 and src[i - 1].mean() < 235 and src[i + 1].mean() < 235:
            assert scores[1] == max(scores), f"frame {i} matches a neighbour better: {scores}"


def test_audio_subtitles_chapters_kept_and_in_sync(batch, clips):
    results, _, _ = batch
    out = final(results, "main")
    src_info, out_info = ffprobe(clips["main"]), ffprobe(out)
    for kind in ("audio", "subtitle"):
        src_s, out_s = streams_of(src_info, kind), streams_of(out_info, kind)
        assert [s["codec_name"] for s in out_s] == [s["codec_name"] for s in src_s]
        assert [s["tags"].get("language") for s in out_s] == [
            s["tags"].get("language") for s in src_s
        ]
    assert [c["tags"]["title"] for c in out_info["chapters"]] == ["Opening", "Finale"]
    assert [c["start_time"] for c in out_info["chapters"]] == [
        c["start_time"] for c in src_info["chapters"]
    ]
    assert_sync(clips["main"], out)


def assert_sync(source, output):
    """Flash-to-beep offsets in the output equal the source's (audio is stream-copied)."""
    src_offsets = np.subtract(beep_times(source), flash_times(source))
    out_offsets = np.subtract(beep_times(output), flash_times(output))
    assert len(src_offsets) == len(out_offsets) == 2
    assert np.allclose(out_offsets, src_offsets, atol=0.002), (src_offsets, out_offsets)


def test_video_starting_after_audio_stays_in_sync(batch, clips):
    results, _, _ = batch
    out = final(results, "offset")
    start = float(streams_of(ffprobe(out), "video")[0]["start_time"])
    assert abs(start - 0.5) < 0.01
    assert_sync(clips["offset"], out)


def test_ntsc_rate_stays_exact_and_subrip_means_mkv(batch):
    results, _, _ = batch
    out = final(results, "ntsc", "mkv")
    info = ffprobe(out)
    video = streams_of(info, "video")[0]
    assert rate_of(video) == Fraction(30000, 1001)
    assert [s["codec_name"] for s in streams_of(info, "subtitle")] == ["subrip"]
    summary = json.loads((results / "ntsc" / "summary.json").read_text())
    assert summary["probe"]["video"]["frame_rate"] == "30000/1001"
    assert summary["probe"]["video"]["frames_source"] == "decoded"  # MKV has no frame count


def test_variable_frame_rate_detected_and_kept(batch, clips):
    results, _, _ = batch
    summary = json.loads((results / "vfr" / "summary.json").read_text())
    assert summary["probe"]["video"]["constant_frame_rate"] is False
    src_times, _ = video_frames(clips["vfr"])
    steps = np.diff(src_times)
    assert steps.max() > 2.5 * steps.min()  # really variable: 1/48 s and 1/16 s steps
    out_times, _ = video_frames(final(results, "vfr"))
    assert np.allclose(out_times, src_times, atol=0.0011)


def test_ten_bit_stays_ten_bit_with_colour_tags(batch):
    results, _, _ = batch
    video = streams_of(ffprobe(final(results, "deep")), "video")[0]
    assert video["pix_fmt"] == "yuv420p10le"
    assert video["color_space"] == "smpte170m" and video["color_range"] == "tv"


def test_odd_size_and_no_audio(batch):
    results, _, _ = batch
    info = ffprobe(final(results, "odd"))
    assert (streams_of(info, "video")[0]["width"], streams_of(info, "video")[0]["height"]) == (
        388,
        292,
    )
    silent = ffprobe(final(results, "silent"))
    assert streams_of(silent, "audio") == [] and len(streams_of(silent, "video")) == 1


def test_rotation_applied_like_ffmpeg_autorotate(batch, clips, tmp_path):
    """The output is upright: it matches FFmpeg's own autorotated decode of the source."""
    results, _, _ = batch
    reference = tmp_path / "upright.mkv"
    run(
        ["ffmpeg", "-v", "error", "-i", str(clips["rotated"]), "-c:v", "ffv1", str(reference)],
        cwd=tmp_path,
        check=True,
    )
    _, upright = video_frames(reference)
    _, out = video_frames(final(results, "rotated"))
    assert out[0].shape[:2] == (4 * upright[0].shape[0], 4 * upright[0].shape[1])
    small = downscale(out[3], (upright[3].shape[1], upright[3].shape[0]))
    assert psnr(small, upright[3]) > 24
    assert "side_data_list" not in streams_of(ffprobe(final(results, "rotated")), "video")[0]


def test_summary_reports_stages(batch):
    results, _, _ = batch
    summary = json.loads((results / "main" / "summary.json").read_text())
    assert summary["model"] == "realesr-animevideov3" and summary["frames"] == 20
    assert summary["shards"] == 2  # 20 frames in shards of 12
    assert set(summary["stages"]) == {"probe", "split", "upscale", "encode", "assemble"}
    assert summary["stages"]["upscale"]["frames"] == 20
    assert summary["output"].endswith("main/final.mp4")
    # What the upscale jobs ran on, as they ran it (this machine has no GPU).
    device = summary["device"]
    assert (device["device"], device["gpu"], device["precision"]) == ("cpu", None, "fp32")
    assert device["backend"] in {"torch", "torch-compile", "onnxruntime", "ncnn"}


def test_rerun_after_deleting_one_upscaled_shard_redoes_only_that_shard(batch):
    results, command, work = batch
    shard = results / "vfr" / "work" / "upscaled" / "0001.mkv"
    others = [results / "vfr" / "work" / "upscaled" / f"000{i}.mkv" for i in (0,)]
    before = {p: p.stat().st_mtime_ns for p in others}
    shard.unlink()
    rerun = run(command, cwd=work)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert shard.is_file()
    assert {p: p.stat().st_mtime_ns for p in others} == before
    jobs = [
        line.removeprefix("local")
        for line in rerun.stderr.splitlines()
        if line.startswith(("rule ", "localrule "))
    ]
    assert jobs.count("rule upscale:") == 1 and "rule split:" not in jobs, jobs
    assert "wildcards: video=vfr, shard=0001" in rerun.stderr
    assert count_frames(final(results, "vfr")) == CLIPS["vfr"][1].frames
    assert CLIPS["vfr"][1].frames > SHARD_FRAMES  # so the clip has a second shard


def test_stabiliser_option_changes_frames_only_slightly(batch, tmp_path):
    from vsr.steps.upscale import upscale_shard

    results, _, _ = batch
    work = results / "main" / "work"
    out = tmp_path / "stabilised.mkv"
    upscale_shard(
        str(work / "shards" / "0000.mkv"),
        str(work / "probe.json"),
        str(out),
        settings={"backend": "torch", "stabilize": 0.7},
    )
    _, plain = video_frames(work / "upscaled" / "0000.mkv")
    _, stabilised = video_frames(out)
    assert len(plain) == len(stabilised) == SHARD_FRAMES
    # Frame 0 has nothing to carry over: equal up to backend rounding (the batch used `auto`).
    assert psnr(plain[0], stabilised[0]) > 50
    scores = [psnr(a, b) for a, b in zip(plain[1:], stabilised[1:], strict=True)]
    # Changed where the camera motion could be followed (this fast pan often jumps too far).
    assert all(s > 25 for s in scores) and min(scores) < 45, scores
