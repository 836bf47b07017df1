"""Source integrity: complete files that start late are not mistaken for cut ones."""

from __future__ import annotations

import subprocess

import pytest

from vsr.errors import VsrError
from vsr.media.integrity import check_integrity
from vsr.media.sample import ClipSpec, make_clip


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_a_late_start_is_not_a_truncation(tmp_path, suffix):
    """MPEG-PS and broadcast captures start at 0.5 s or later; remuxed, the Matroska muxer
    declares the end time, not the length, and the check must allow both readings."""
    clip = make_clip(tmp_path / "clip.mp4", ClipSpec(width=64, height=48, frames=24))
    late = tmp_path / f"late{suffix}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(clip), "-c", "copy", "-output_ts_offset", "1.5",
         str(late)],
        check=True,
    )  # fmt: skip
    check_integrity(late)
    cut = tmp_path / f"cut{suffix}"
    data = late.read_bytes()
    cut.write_bytes(data[: len(data) // 3] if suffix == ".mkv" else data)
    if suffix == ".mkv":
        with pytest.raises(VsrError, match="truncated"):
            check_integrity(cut)
