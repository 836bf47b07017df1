"""Like for like: the pipeline's output against the per-frame baseline's, at every stage.

What each side hands its encoder agrees to ~100 dB (float summation order differs between the two
models' kernels: a few 1-level flips); x264 turns those flips into different decisions, so the
finals agree only to ~40-43 dB, each equally far from the model's output. All four are reported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vsr.layout import upscale_video_paths
from vsr.measure.bench_runs import decode_rgb
from vsr.media.metrics import psnr


def psnr_between(a: Path, b: Path) -> float:
    return psnr(np.stack(decode_rgb(a)), np.stack(decode_rgb(b)))


def to_yuv420(rgb: np.ndarray) -> np.ndarray:
    """RGB -> the planes the pipeline's upscale step writes (same swscale call, see upscale.py)."""
    import av

    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format="yuv420p", dst_colorspace="ITU601", src_color_range="JPEG", dst_color_range="MPEG"
    )
    return frame.to_ndarray()


def quality(pipeline_out: Path, per_frame_out: Path, keep_every: int) -> dict[str, float]:
    """PSNR of the finals, of what each side hands its encoder, and of each final against the
    model's own output (the per-frame baseline's kept frames, every `keep_every`-th)."""
    import av

    kept = np.load(per_frame_out.with_suffix(".kept.npy"))
    shards = sorted(upscale_video_paths(pipeline_out).upscaled.glob("*.mkv"))
    ours: list[np.ndarray] = []
    for shard in shards:
        with av.open(str(shard)) as container:
            ours += [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]
    ours_kept = np.stack(ours[::keep_every][: len(kept)])
    baseline_yuv = np.stack([to_yuv420(rgb) for rgb in kept])
    final_ours = np.stack(decode_rgb(pipeline_out)[::keep_every][: len(kept)])
    final_theirs = np.stack(decode_rgb(per_frame_out)[::keep_every][: len(kept)])
    return {
        "psnr_finals_db": psnr_between(pipeline_out, per_frame_out),
        "psnr_encoder_input_db": psnr(ours_kept, baseline_yuv),
        "psnr_pipeline_final_vs_model_db": psnr(final_ours, kept),
        "psnr_per_frame_final_vs_model_db": psnr(final_theirs, kept),
    }
