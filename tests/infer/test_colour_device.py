"""RGB -> I420 on the model's device: matches swscale's conversion, and the upscale step's output
with it matches the CPU path (forced here with `colour: device`; `auto` uses it on GPUs only)."""

import av
import numpy as np
import pytest
import torch

from vsr.infer.colour_device import ToI420


@pytest.mark.parametrize(("matrix", "colour_range"), [("ITU601", "MPEG"), ("ITU709", "JPEG")])
def test_to_i420_matches_swscale(matrix: str, colour_range: str):
    rng = np.random.default_rng(1)
    # Smooth content: swscale's chroma filter and a 2x2 mean agree on it to a level or so.
    base = rng.integers(0, 256, (6, 8, 3)).astype(np.float32)
    rgb = np.asarray(
        torch.nn.functional.interpolate(
            torch.from_numpy(base).permute(2, 0, 1)[None], size=(48, 64), mode="bilinear"
        )[0]
        .permute(1, 2, 0)
        .round()
        .to(torch.uint8)
    )
    ours = ToI420(matrix, colour_range, torch.device("cpu"))(
        torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    )[0].numpy()
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format="yuv420p",
        dst_colorspace=matrix,
        src_color_range="JPEG",
        dst_color_range=colour_range,
    )
    theirs = frame.to_ndarray()
    assert ours.shape == theirs.shape == (72, 64)
    luma = np.abs(ours[:48].astype(int) - theirs[:48].astype(int))
    chroma = np.abs(ours[48:].astype(int) - theirs[48:].astype(int))
    assert luma.max() <= 1 and chroma.mean() < 1.0 and chroma.max() <= 6
