"""`intermediate: none`: the upscale job encodes the final segment itself. Same final video as the
lossless design (same frames into the same encoder), no 4x files, one job per shard."""

from pathlib import Path

from helpers.media import psnr, video_frames
from helpers.workflow import snakemake_batch, write_manifest

from vsr.media.sample import ClipSpec, make_clip

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
