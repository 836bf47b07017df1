"""`bicubic`: a registry model with no weights, run by the same Upscaler as the learned ones."""

import numpy as np
import torch
import torch.nn.functional as F

from vsr.infer.upscaler import Upscaler
from vsr.models.registry import REGISTRY, format_models, resolve_model


def test_bicubic_is_registered_without_weights():
    spec = resolve_model("bicubic")
    assert spec is REGISTRY["bicubic"] and spec.scale == 4 and spec.params == 0
    assert "bicubic" in format_models()


def test_bicubic_upscales_like_torch_interpolate_without_calibration():
    upscaler = Upscaler("bicubic", device="cpu", threads=1)
    assert upscaler.backend == "torch" and upscaler.plan(480, 640) == (0, 1)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 12, 16, 3), dtype=np.uint8)
    out = upscaler.upscale(frames)
    assert out.shape == (2, 48, 64, 3) and out.dtype == np.uint8
    ref = F.interpolate(
        torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255,
        scale_factor=4,
        mode="bicubic",
        align_corners=False,
    ).clamp(0, 1)
    expected = (ref * 255).round().permute(0, 2, 3, 1).numpy().astype(np.uint8)
    assert np.abs(out.astype(int) - expected).max() <= 1
