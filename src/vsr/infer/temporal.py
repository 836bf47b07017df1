"""Less flicker from GAN upscalers: motion-compensated blending of the detail they add.

A GAN invents texture (its residual over bicubic) afresh for every frame, so on a pan the
texture shimmers. `TemporalStabilizer` keeps a running blend of that residual, moved along with
the camera (global motion measured on the low-resolution frames by phase correlation), and adds
it back onto each frame's bicubic upscale: out = bicubic(lr_t) + a*r_t + (1-a)*shift(r~_{t-1}).
`strength` is 1-a: 0 changes nothing, 0.5 averages about the last three frames' detail. A scene
cut (the frames no longer match after the shift) restarts the blend so nothing ghosts across it.
"""

from __future__ import annotations

import numpy as np

from vsr.media.metrics import bicubic_up, global_motion, luma, shave, warp

# Mean |Y| difference (0-255) left after aligning two LR frames above which they are taken as a
# scene cut (or a move too complex to align): measured ~1.5-2 on pans, ~40 on cuts.
CUT_LEVEL = 12.0


class TemporalStabilizer:
    """Feed frames in order with `apply(lr_frame, sr_frame)`; returns the stabilised frame."""

    def __init__(self, strength: float, scale: int = 4):
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"strength={strength}: must be in [0, 1)")
        self.strength, self.scale = strength, scale
        self._previous_lr: np.ndarray | None = None
        self._residual: np.ndarray | None = None

    def apply(self, lr: np.ndarray, sr: np.ndarray) -> np.ndarray:
        if self.strength == 0.0:
            return sr
        base = bicubic_up(lr, self.scale).astype(np.float32)
        residual = sr.astype(np.float32) - base
        motion = self._motion(lr)
        if motion is not None and self._residual is not None:
            carried = warp(self._residual, (motion[0] * self.scale, motion[1] * self.scale))
            residual = (1.0 - self.strength) * residual + self.strength * carried
        self._residual, self._previous_lr = residual, lr
        return np.clip(np.rint(base + residual), 0, 255).astype(np.uint8)

    def _motion(self, lr: np.ndarray) -> tuple[float, float] | None:
        """(dy, dx) that moves the previous frame onto this one, or None at a start or cut."""
        if self._previous_lr is None or self._previous_lr.shape != lr.shape:
            return None
        motion, _ = global_motion(self._previous_lr, lr)
        margin = 2 + int(max(abs(motion[0]), abs(motion[1])))
        if 4 * margin > min(lr.shape[:2]):  # a jump of over a quarter frame: not one camera
            return None
        aligned = warp(luma(self._previous_lr), motion)
        left = float(np.abs(shave(luma(lr) - aligned, margin)).mean())
        return None if left > CUT_LEVEL else motion


def stabilise(lr_frames: list[np.ndarray], sr_frames: list[np.ndarray], strength: float):
    """A whole clip through one `TemporalStabilizer`."""
    stabilizer = TemporalStabilizer(strength)
    return [stabilizer.apply(lr, sr) for lr, sr in zip(lr_frames, sr_frames, strict=True)]
