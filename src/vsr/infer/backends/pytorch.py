"""Eager torch (spandrel's module as it is) and torch.compile of it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from vsr.infer.backends.common import (
    CALIBRATION_SIDE,
    QUALITY_DB,
    Forward,
    Network,
    padded,
    probe_batch,
    psnr_db,
)
from vsr.models.cache import compile_cache_dir

log = logging.getLogger(__name__)


def use_shared_compile_cache() -> Path:
    """Point inductor's and Triton's caches (compiled kernels, autotuning results, FX graphs)
    at the shared cache, so a shard's job reuses what an earlier job on any node compiled;
    variables the user set win."""
    folder = compile_cache_dir()
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(folder / "inductor"))
    os.environ.setdefault("TRITON_CACHE_DIR", str(folder / "triton"))
    return Path(os.environ["TORCHINDUCTOR_CACHE_DIR"])


def torch_forward(network: Network) -> Forward:
    return network.descriptor


def compiled_forward(network: Network) -> Forward:
    """torch.compile of the module, or eager (with a warning) if it fails or drifts from eager."""
    use_shared_compile_cache()
    # Autotuning pays off on GPUs only; CUDA graphs would pin every input shape's buffers.
    mode = "max-autotune-no-cudagraphs" if network.device.type == "cuda" else None
    compiled = torch.compile(network.descriptor.model, mode=mode)

    def forward(batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return padded(lambda x: compiled(x), batch, network)

    probe = probe_batch(network, CALIBRATION_SIDE)
    try:
        psnr = psnr_db(network.descriptor(probe), forward(probe))
    except Exception as error:  # inductor needs a compiler toolchain; eager always works
        log.warning("%s: torch.compile failed (%s); using eager torch", network.name, error)
        return network.descriptor
    if psnr < QUALITY_DB:
        log.warning("%s: compiled model is %.1f dB from eager; using eager", network.name, psnr)
        return network.descriptor
    log.info("%s: torch.compile matches eager at %.1f dB", network.name, psnr)
    return forward
