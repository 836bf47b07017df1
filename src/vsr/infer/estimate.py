"""Model time before a run: measured throughput per model and per device kind, in source
megapixels per second at x4 (a model's cost grows with the pixels it is given).

Each table names the device it was measured on. `cpu` is this project's 2-core development
machine (docs/performance.md, /work/shared/ENVIRONMENT.md figures: the upscale step's model-only
rate on 320x180 -> 1280x720); a kind without a table gives no estimate rather than a guess.
"""

from __future__ import annotations

from typing import Any

CALIBRATION: dict[str, dict[str, Any]] = {
    "cpu": {
        "device": "AMD EPYC (Zen 5), 2 threads, torch 2.14.1 fp32 channels-last, jemalloc",
        "mpx_per_s": {
            # 4.34 frames/s x 0.0576 Mpx (docs/performance.md, model-only)
            "realesr-animevideov3": 0.25,
            # ~7.5 s per 320x180 frame (torch; ENVIRONMENT.md)
            "realesrgan-x4plus": 0.0077,
            # 6 of x4plus's 23 RRDB blocks: scaled from x4plus, not measured
            "realesrgan-x4plus-anime-6b": 0.027,
            # ~7 s per 320x180 frame (ENVIRONMENT.md)
            "dat-light-x4": 0.0082,
            "dat-light": 0.0082,
            # 0.82 frames/s at 320x180 (docs/quality.md); its variants are the same network
            "realcugan": 0.047,
            "realcugan-conservative": 0.047,
            "realcugan-denoise3x": 0.047,
            # torch bicubic, the upscale step's frame loop: ~35 frames/s at 320x180
            "bicubic": 2.0,
        },
    },
}


def device_kind(device: str) -> str:
    """The calibration kind a run's `upscale.device` lands on here (auto: cuda where an NVIDIA
    device node exists; torch is not imported for this)."""
    if device.startswith("cuda"):
        return "cuda"
    if device == "auto":
        from pathlib import Path

        return "cuda" if Path("/dev/nvidia0").exists() else "cpu"
    return device


def model_seconds(model: str, kind: str, width: int, height: int, frames: int) -> float | None:
    """Estimated model seconds for `frames` pictures of width x height; None where the model or
    the device kind has no measurement."""
    rate = (CALIBRATION.get(kind) or {}).get("mpx_per_s", {}).get(model)
    if not rate:
        return None
    return width * height * frames / 1e6 / rate


def measured_on(kind: str) -> str:
    table = CALIBRATION.get(kind)
    return table["device"] if table else f"no calibration for device kind {kind!r}"
