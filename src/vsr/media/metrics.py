"""Full-reference quality and temporal stability, as SR papers measure them.

- Degradation: bicubic downscaling with antialiasing (PIL's bicubic widens its kernel when it
  shrinks, like MATLAB's imresize), on images cropped to a multiple of the scale.
- PSNR and SSIM on the luma (Y) of ITU-R BT.601 in the 16-235 range, the scale's width of
  border cropped off both images, peak 255; SSIM with the 11x11 Gaussian window (sigma 1.5) of
  Wang et al. 2004.
- Flicker: how much consecutive frames change (mean |Y[t+1] - Y[t]|); the temporal error, how
  far that change departs from the ground truth's (mean |dY_out - dY_gt|); and the warping error
  of Lai et al. 2018: mean |Y[t+1] - warp(Y[t])|, with the camera motion measured on the ground
  truth (global, sub-pixel phase correlation), so detail that moves with the scene costs nothing
  and detail that shimmers does. A temporally stable upscaler scores near the ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

BT601_Y = np.array([65.481, 128.553, 24.966]) / 255.0  # RGB 0..255 -> Y 16..235, minus 16
SSIM_SIGMA = 1.5


def as_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 (H,W,3) RGB from grey or RGBA photos."""
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8))


def crop_to_multiple(image: np.ndarray, multiple: int) -> np.ndarray:
    height, width = image.shape[:2]
    return image[: height - height % multiple, : width - width % multiple]


def centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    """A size x size crop from the middle (the whole image when size is 0 or too large)."""
    height, width = image.shape[:2]
    if size <= 0:
        return image
    top, left = max(0, (height - size) // 2), max(0, (width - size) // 2)
    return image[top : top + size, left : left + size]


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bicubic resize of a uint8 RGB image (antialiased when shrinking), rounded to uint8."""
    resized = Image.fromarray(image).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(resized)


def bicubic_down(image: np.ndarray, scale: int) -> np.ndarray:
    height, width = image.shape[:2]
    if height % scale or width % scale:
        raise ValueError(f"image size {width}x{height} is not a multiple of {scale}")
    return resize(image, width // scale, height // scale)


def bicubic_up(image: np.ndarray, scale: int) -> np.ndarray:
    height, width = image.shape[:2]
    return resize(image, width * scale, height * scale)


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 Y (16..235) as float64 of uint8 RGB (..., 3)."""
    return rgb.astype(np.float64) @ BT601_Y + 16.0


def shave(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:-border, border:-border] if border else image


def _check_pair(output: np.ndarray, reference: np.ndarray) -> None:
    if output.shape != reference.shape:
        raise ValueError(f"shapes differ: {output.shape} vs {reference.shape}")


def psnr_from_mse(mse: float, peak: float = 255.0) -> float:
    """PSNR (dB) of a mean squared error; infinite for identical signals."""
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak**2 / mse))


def psnr(output: np.ndarray, reference: np.ndarray, peak: float = 255.0) -> float:
    """PSNR (dB) over every sample of two arrays of the same shape (all channels)."""
    _check_pair(output, reference)
    error = output.astype(np.float64) - reference.astype(np.float64)
    return psnr_from_mse(float(np.mean(error**2)), peak)


def psnr_y(output: np.ndarray, reference: np.ndarray, border: int = 4) -> float:
    """PSNR (dB) between the Y channels of two uint8 RGB images, `border` pixels shaved."""
    _check_pair(output, reference)
    error = shave(luma(output) - luma(reference), border)
    return psnr_from_mse(float(np.mean(error**2)))


def ssim_y(output: np.ndarray, reference: np.ndarray, border: int = 4) -> float:
    """SSIM between the Y channels (Gaussian 11x11 window, sigma 1.5, K1 0.01, K2 0.03)."""
    from skimage.metrics import structural_similarity

    _check_pair(output, reference)
    return float(
        structural_similarity(
            shave(luma(output), border),
            shave(luma(reference), border),
            data_range=255.0,
            gaussian_weights=True,
            sigma=SSIM_SIGMA,
            use_sample_covariance=False,
        )
    )


def temporal_change(frames: Sequence[np.ndarray], border: int = 4) -> float:
    """Mean |Y[t+1] - Y[t]| over a clip's consecutive frames (0 for a still clip)."""
    return float(np.mean([np.abs(d).mean() for d in _luma_steps(frames, border)]))


def temporal_error(
    frames: Sequence[np.ndarray], truth: Sequence[np.ndarray], border: int = 4
) -> float:
    """Mean |dY_out - dY_truth| between consecutive frames: flicker the scene does not have."""
    if len(frames) != len(truth):
        raise ValueError(f"{len(frames)} frames vs {len(truth)} ground-truth frames")
    steps = zip(_luma_steps(frames, border), _luma_steps(truth, border), strict=True)
    return float(np.mean([np.abs(out - ref).mean() for out, ref in steps]))


def _luma_steps(frames: Sequence[np.ndarray], border: int) -> list[np.ndarray]:
    if len(frames) < 2:
        raise ValueError("flicker needs at least two frames")
    ys = [shave(luma(frame), border) for frame in frames]
    return [after - before for before, after in zip(ys, ys[1:], strict=False)]


def global_motion(before: np.ndarray, after: np.ndarray) -> tuple[tuple[float, float], float]:
    """((dy, dx) that moves `before` onto `after`, phase-correlation error 0..1) of RGB frames.

    Phase correlation finds the shift to a quarter pixel; it is then refined by minimising the
    squared difference after warping (on small frames the non-wrapping edges bias phase
    correlation: a 3/8 px pan read as 1/4 px).
    """
    from scipy import optimize
    from skimage.registration import phase_cross_correlation

    moving, fixed = luma(before), luma(after)
    start, error, _ = phase_cross_correlation(fixed, moving, upsample_factor=4, normalization=None)
    margin = 2 + int(np.ceil(np.abs(start).max() + 0.5))

    def cost(shift: np.ndarray) -> float:
        return float(np.mean(shave(fixed - warp(moving, (shift[0], shift[1])), margin) ** 2))

    simplex = start + np.array([[0.0, 0.0], [0.25, 0.0], [0.0, 0.25]])
    found = optimize.minimize(
        cost, start, method="Nelder-Mead", options={"initial_simplex": simplex, "xatol": 0.01}
    )
    best = found.x if np.abs(found.x - start).max() <= 1.0 else start  # refine, never wander
    return (float(best[0]), float(best[1])), float(error)


def warp(plane: np.ndarray, motion: tuple[float, float]) -> np.ndarray:
    """A 2-D (or H,W,C) array moved by sub-pixel (dy, dx), cubic spline, edges repeated."""
    from scipy import ndimage

    shift = (*motion, 0.0)[: plane.ndim]
    return ndimage.shift(plane, shift, order=3, mode="nearest")


def clip_motions(truth: Sequence[np.ndarray]) -> list[tuple[float, float]]:
    """The camera's global motion between consecutive ground-truth frames."""
    return [global_motion(a, b)[0] for a, b in zip(truth, truth[1:], strict=False)]


def warping_error(
    frames: Sequence[np.ndarray], motions: Sequence[tuple[float, float]], border: int = 4
) -> float:
    """Mean |Y[t+1] - warp(Y[t], motion_t)|, edges the motion uncovers left out."""
    if len(motions) != len(frames) - 1 or not motions:
        raise ValueError(f"{len(frames)} frames need {len(frames) - 1} motions (at least one)")
    margin = border + int(np.ceil(max(max(abs(m[0]), abs(m[1])) for m in motions)))
    ys = [luma(frame) for frame in frames]
    errors = [
        np.abs(shave(after - warp(before, motion), margin)).mean()
        for before, after, motion in zip(ys, ys[1:], motions, strict=False)
    ]
    return float(np.mean(errors))


def detail_window(image: np.ndarray, size: int) -> tuple[int, int]:
    """(top, left) of the size x size window with the most edges: where SR differences show."""
    y = luma(image)
    edges = np.abs(np.diff(y, axis=0))[:, :-1] + np.abs(np.diff(y, axis=1))[:-1, :]
    height, width = edges.shape
    step = max(size // 4, 1)
    best, where = -1.0, (0, 0)
    for top in range(0, max(height - size, 0) + 1, step):
        for left in range(0, max(width - size, 0) + 1, step):
            score = float(edges[top : top + size, left : left + size].mean())
            if score > best:
                best, where = score, (top, left)
    return where
