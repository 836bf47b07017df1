"""`intermediate: none`: the upscale job encodes the final segment itself. Same final video as the
lossless design (same frames into the same encoder), no 4x files, one job per shard."""

from pathlib import Path

from helpers.archive import AC3_PS, MPEG2_TFF, base_clip, ffmpeg, hard_telecine
from helpers.media import ffprobe, psnr, streams_of, video_frames
from helpers.workflow import snakemake_batch, write_manifest

from vsr.layout import video_paths
from vsr.media.sample import ClipSpec, make_clip
from vsr.workflow.progress import SnakemakeLogFollower, read_progress

CLIP = ClipSpec(width=64, height=48, frames=14, rate="30000/1001")


def run(manifest: Path, results: Path, intermediate: str):
    settings = [f"intermediate={intermediate}", "shard_frames=6", "keep_upscaled=True"]
    outcome, command = snakemake_batch(manifest, results, *settings, "encode={preset: veryfast}")
    assert outcome.returncode == 0, outcome.stderr[-3000:]
    return outcome


def test_none_gives_the_lossless_designs_video_without_4x_files(tmp_path: Path):
    clip = make_clip(tmp_path / "clip.mp4", CLIP)
    manifest = write_manifest(tmp_path / "m.tsv", [("clip", str(clip), "anime")])
    manifest.write_text(manifest.read_text().replace("anime\t", "anime\tbicubic"))
    lossless = run(manifest, tmp_path / "lossless", "lossless")
    fused = run(manifest, tmp_path / "none", "none")
    assert "rule upscale_encode" in fused.stderr and "rule encode" not in fused.stderr
    assert "rule encode" in lossless.stderr
    work = tmp_path / "none" / "clip" / "work"
    assert not (work / "upscaled").exists() or not list((work / "upscaled").iterdir())
    assert len(list((work / "segments").glob("*.mp4"))) == 3
    ours, theirs = (video_frames(tmp_path / d / "clip" / "final.mp4") for d in ("none", "lossless"))
    assert ours[0] == theirs[0]  # timestamps
    assert len(ours[1]) == CLIP.frames
    for a, b in zip(ours[1], theirs[1], strict=True):
        assert (a == b).all()
    # Every shard's jobs done: both designs read as assembling (not encoding) from their files,
    # and the log follower counts the fused jobs as upscaled shards.
    for design in ("none", "lossless"):
        progress = read_progress(video_paths(tmp_path / design, "clip"), design)
        assert (progress.stage, progress.shards_done, progress.shards_total) == ("assembling", 3, 3)
    reports = []
    follower = SnakemakeLogFollower(
        lambda stage, **counts: reports.append((stage, counts)),
        video_paths(tmp_path / "none", "clip"),
    )
    for line in fused.stderr.splitlines():
        follower.line(line)
    assert ("upscaling", {"shards_done": 3, "shards_total": 3}) in reports


def test_colour_on_the_device_matches_swscale_closely(tmp_path: Path):
    clip = make_clip(tmp_path / "clip.mp4", CLIP)
    manifest = write_manifest(tmp_path / "m.tsv", [("clip", str(clip), "anime")])
    manifest.write_text(manifest.read_text().replace("anime\t", "anime\tbicubic"))
    settings = ["intermediate=none", "shard_frames=7", "encode={preset: veryfast}"]
    for name, colour in (("cpu", "cpu"), ("device", "device")):
        outcome, _ = snakemake_batch(
            manifest, tmp_path / name, *settings, f"upscale={{colour: {colour}}}"
        )
        assert outcome.returncode == 0, outcome.stderr[-3000:]
    ours, theirs = (video_frames(tmp_path / d / "clip" / "final.mp4") for d in ("device", "cpu"))
    assert ours[0] == theirs[0] and len(ours[1]) == CLIP.frames
    for a, b in zip(ours[1], theirs[1], strict=True):
        assert psnr(a, b) > 36  # chroma: centre-sited 2x2 mean vs swscale's filter


def test_none_shapes_and_retimes_like_lossless(tmp_path: Path):
    """Telecined anamorphic film: both designs restore 24000/1001 and square pixels alike."""
    film = base_clip(tmp_path, "film", width=96, height=64, frames=16, rate="24000/1001")
    anamorphic = tmp_path / "anamorphic.mkv"
    ffmpeg("-i", str(film), "-vf", "setsar=32/27", "-c:v", "ffv1", "-c:a", "copy", str(anamorphic))
    source = hard_telecine(anamorphic, tmp_path / "hard.mpg", *MPEG2_TFF, *AC3_PS)
    manifest = write_manifest(tmp_path / "m.tsv", [("clip", str(source), "anime")])
    manifest.write_text(manifest.read_text().replace("anime\t", "anime\tbicubic"))
    finals = {}
    for design in ("lossless", "none"):
        settings = [f"intermediate={design}", "shard_frames=8", "output={aspect: square}"]
        outcome, _ = snakemake_batch(manifest, tmp_path / design, *settings)
        assert outcome.returncode == 0, outcome.stderr[-3000:]
        finals[design] = tmp_path / design / "clip" / "final.mp4"
    for final in finals.values():
        (video,) = streams_of(ffprobe(final), "video")
        assert video["r_frame_rate"] == "24000/1001"
        assert video.get("sample_aspect_ratio", "1:1") in {"1:1", "0:1"}
        assert abs(video["width"] / video["height"] - 96 * 32 / 27 / 64) < 0.01
    ours, theirs = (video_frames(finals[d]) for d in ("none", "lossless"))
    assert ours[0] == theirs[0] and len(ours[1]) == len(theirs[1]) >= 16
    for a, b in zip(ours[1], theirs[1], strict=True):
        assert (a == b).all()
