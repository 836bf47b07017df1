"""Model time before a run: each family's measured throughput per device kind
(`ModelSpec.cost`, in source megapixels per second; a model's cost grows with the pixels it is
given), and the device each kind's figures were measured on.

`cpu` is this project's 2-core development machine (docs/performance.md, /work/shared/
ENVIRONMENT.md figures: the upscale step's model-only rate on 320x180 -> 1280x720); a kind
without figures gives no estimate rather than a guess.
"""

from __future__ import annotations

MEASURED_ON = {
    "cpu": "AMD EPYC (Zen 5), 2 threads, torch 2.14.1 fp32 channels-last, jemalloc",
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
    the device kind has no measurement (a checkpoint given by path has none)."""
    from vsr.models.catalogue import family_of

    family = family_of(model)
    rate = family.cost.get(kind) if family else None
    if not rate:
        return None
    return width * height * frames / 1e6 / rate


def measured_on(kind: str) -> str:
    return MEASURED_ON.get(kind) or f"no calibration for device kind {kind!r}"
