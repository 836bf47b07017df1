"""Inference backends: one network run by torch, torch.compile, onnxruntime or ncnn.

Each backend maps an (N,3,H,W) float tensor in [0, 1] on the Upscaler's device to (N,3,sH,sW)
in [0, 1], like spandrel's descriptor: padded to the model's size requirements, clamped, cropped.
`auto` picks the fastest one measured on this device (a short calibration, cached per model
weights + device + precision + threads), so a machine pays for it once. The calibration frame
grows until one eager pass takes CALIBRATION_MIN_S (a tiny frame fits in cache and flatters the
wrong backend), rounds are interleaved (a burst of load hits every backend alike), and eager torch
is kept unless another backend beats it by a clear margin.

- torch: spandrel's eager module (CPU, CUDA; fp32/fp16/bf16).
- torch-compile: `torch.compile` of it, kept only if it matches eager within QUALITY_DB.
- onnxruntime: the module exported once to ONNX (opset 17, dynamic N/H/W) and cached beside the
  converted weights; on CUDA the TensorRT (fp16 when asked, one shape profile) and CUDA
  execution providers of `onnxruntime-gpu` (requirements-gpu.txt), verified after loading,
  with IO binding on device memory; else the CPU one.
- ncnn: a family's original `.param`/`.bin` as shipped (CPU, fp32 arithmetic) for registry models
  that ship them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vsr.errors import VsrError
from vsr.infer.backends.calibrate import CHOICES_FILE, CHOICES_VERSION, choose, pick
from vsr.infer.backends.common import QUALITY_DB, Forward, Network, psnr_db
from vsr.infer.backends.ncnn import ncnn_blob_names, ncnn_forward
from vsr.infer.backends.onnx import (
    ONNX_OPSET,
    _has_onnxruntime,
    _onnx_usable,
    onnxruntime_forward,
    ort_providers,
)
from vsr.infer.backends.pytorch import compiled_forward, torch_forward

__all__ = [
    "BACKENDS",
    "BUILDERS",
    "CHOICES_FILE",
    "CHOICES_VERSION",
    "ONNX_OPSET",
    "QUALITY_DB",
    "Forward",
    "Network",
    "build",
    "candidates",
    "ncnn_blob_names",
    "ort_providers",
    "pick",
    "psnr_db",
]

BACKENDS = ("auto", "torch", "torch-compile", "onnxruntime", "ncnn")
BUILDERS: dict[str, Callable[[Network], Forward]] = {
    "torch": torch_forward,
    "torch-compile": compiled_forward,
    "onnxruntime": onnxruntime_forward,
    "ncnn": ncnn_forward,
}


def build(backend: str, network: Network) -> tuple[str, Forward]:
    """(name of the backend chosen, its forward function)."""
    if backend not in BACKENDS:
        raise VsrError(f"backend={backend}", f"unknown backend (one of {', '.join(BACKENDS)})")
    if backend == "auto" and candidates(network) == ["torch"]:
        return "torch", BUILDERS["torch"](network)  # nothing to compare: no calibration
    if backend == "auto":
        return choose(network)
    return backend, BUILDERS[backend](network)


def candidates(network: Network) -> list[str]:
    """Backends worth timing for this device and precision (torch always works)."""
    names = ["torch"]
    if not any(True for _ in network.descriptor.model.parameters()):
        return names  # a weightless model (bicubic) is one torch call: nothing to gain
    # On CUDA without onnxruntime-gpu the calibration logs why it is unusable and skips it.
    if _onnx_usable(network) and _has_onnxruntime():
        names.append("onnxruntime")
    if network.ncnn_files and network.device.type == "cpu" and network.dtype == torch.float32:
        names.append("ncnn")
    return names
