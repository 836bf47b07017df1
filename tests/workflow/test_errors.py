"""Bad input: one line naming the file and the problem, a non-zero exit, no final output."""

from __future__ import annotations

import pytest
from helpers.workflow import VSR, ffmpeg_copy, run, snakemake_batch, write_manifest

from vsr.media.sample import ClipSpec, make_clip


@pytest.fixture(scope="module")
def good_clip(tmp_path_factory):
    return make_clip(
        tmp_path_factory.mktemp("good") / "good.mp4", ClipSpec(width=64, height=36, frames=12)
    )


def bad_inputs(folder, good_clip):
    """name -> (file, words the error must contain)."""
    empty = folder / "empty.mp4"
    empty.write_bytes(b"")
    text = folder / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    cut = folder / "cut.mp4"  # moov atom at the end: cut short, the index is gone
    data = good_clip.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    audio = folder / "audio_only.m4a"
    ffmpeg_copy(good_clip, audio, "-vn")
    # Index up front: the cut leaves frames the index lists but the file no longer holds.
    faststart = ffmpeg_copy(good_clip, folder / "faststart.mp4", "-movflags", "+faststart")
    cut_faststart = folder / "cut_faststart.mp4"
    data = faststart.read_bytes()
    cut_faststart.write_bytes(data[: int(len(data) * 0.6)])
    return {
        "empty": (empty, "empty (0 bytes)"),
        "text": (text, "not a readable video"),
        "cut": (cut, "not a readable video"),
        "audio": (audio, "no video stream (audio only)"),
        "cut_faststart": (cut_faststart, "truncated"),
    }


@pytest.mark.parametrize("name", ["empty", "text", "cut", "audio", "cut_faststart"])
def test_vsr_upscale_rejects_bad_input(tmp_path, good_clip, name):
    source, words = bad_inputs(tmp_path, good_clip)[name]
    before = source.read_bytes()
    out = tmp_path / "out" / "final.mp4"
    result = run(
        [*VSR, "upscale", str(source), "-o", str(out), "--type", "anime"], cwd=tmp_path, timeout=300
    )
    assert result.returncode != 0
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("vsr: error:")]
    assert len(error_lines) == 1, result.stderr[-3000:]
    assert str(source) in error_lines[0] and words in error_lines[0], error_lines
    assert not out.exists() and not list(out.parent.glob("final*"))
    assert source.read_bytes() == before  # nothing a user gave is touched


def test_unknown_model_is_refused_before_anything_runs(tmp_path, good_clip):
    out = tmp_path / "out.mp4"
    result = run(
        [*VSR, "upscale", str(good_clip), "-o", str(out), "--model", "no-such-model"],
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode != 0
    assert "no-such-model" in result.stderr and "unknown model" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "rows, words",
    [
        ([("a", "{good}", "anime"), ("a", "{good}", "real")], "duplicate id(s): a"),
        ([("a", "{missing}", "anime")], "source not found"),
        ([("a", "{good}", "cartoon")], "unknown type 'cartoon'"),
        ([("a", "{good}", "anime", "esrgan-9000")], "unknown model"),
        ([("a/../b", "{good}", "anime")], "bad id"),
    ],
)
def test_batch_manifest_errors_stop_before_any_job(tmp_path, good_clip, rows, words):
    fill = {"good": str(good_clip), "missing": str(tmp_path / "missing.mp4")}
    lines = ["id\tsource\ttype\tmodel"]
    for row in rows:
        cells = [c.format(**fill) for c in row] + [""] * (4 - len(row))
        lines.append("\t".join(cells))
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text("\n".join(lines) + "\n")
    result, _ = snakemake_batch(manifest, tmp_path / "results", timeout=120)
    assert result.returncode != 0
    assert words in result.stderr and "vsr: error:" in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / "results").exists()


def test_batch_bad_file_fails_its_probe_with_the_reason(tmp_path, good_clip):
    source, words = bad_inputs(tmp_path, good_clip)["text"]
    manifest = write_manifest(tmp_path / "manifest.tsv", [("notes", str(source), "real")])
    result, _ = snakemake_batch(manifest, tmp_path / "results", timeout=300)
    assert result.returncode != 0
    assert f"vsr: error: {source}: {words}" in result.stderr, result.stderr[-3000:]
    assert not list((tmp_path / "results").glob("*/final.*"))
