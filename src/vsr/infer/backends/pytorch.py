"""Eager torch (spandrel's module as it is) and torch.compile of it."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from vsr.infer.backends.common import QUALITY_DB, Forward, Network, padded, psnr_db
from vsr.models.cache import compile_cache_dir

log = logging.getLogger(__name__)


def use_shared_compile_cache() -> Path:
    """Point inductor's and Triton's caches (compiled kernels, autotuning results, FX graphs)
    at the shared cache, so a shard's job reuses what an earlier job on any node compiled;
    variables the user set win."""
    folder = compile_cache_dir()
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(folder / "inductor"))
    os.environ.setdefault("TRITON_CACHE_DIR", str(folder / "triton"))
    # On by default in current torch; said here so that an older build keeps them too.
    import torch._inductor.config as inductor

    for cache in ("fx_graph_cache", "autotune_local_cache"):
        if hasattr(inductor, cache):
            setattr(inductor, cache, True)
    return Path(os.environ["TORCHINDUCTOR_CACHE_DIR"])


def torch_forward(network: Network) -> Forward:
    return network.descriptor


def compiled_forward(network: Network, compiler_backend: str | Any = "inductor") -> Forward:
    """torch.compile of the module, or eager (with a warning) if it fails or drifts from eager.

    Nothing is compiled until the first real call: a shard has one frame (or tile) size, so
    the graph is built and autotuned for it, not for a probe size no call uses, and its
    agreement with eager is checked on that first call's own batch. Each shape is compiled
    static (`dynamic=False`: the kernels max-autotune picks are for that shape), and
    inductor's graph and autotuning caches in the shared folder let the next process (the
    next shard's job, on any node) load the kernels instead of compiling them again."""
    use_shared_compile_cache()
    # Autotuning pays off on GPUs only; CUDA graphs would pin every input shape's buffers.
    mode = "max-autotune-no-cudagraphs" if network.device.type == "cuda" else None
    compiled = torch.compile(
        network.descriptor.model, mode=mode, dynamic=False, backend=compiler_backend
    )
    chosen: list[Forward] = []

    def run_compiled(batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return padded(lambda x: compiled(x), batch, network)

    def forward(batch: torch.Tensor) -> torch.Tensor:
        if not chosen:
            chosen.append(_checked(network, run_compiled, batch))
        return chosen[0](batch)

    return forward


def _checked(network: Network, run_compiled: Forward, batch: torch.Tensor) -> Forward:
    """The compiled forward if it runs and matches eager on `batch`, else eager."""
    try:
        psnr = psnr_db(network.descriptor(batch), run_compiled(batch))
    except Exception as error:  # inductor needs a compiler toolchain; eager always works
        log.warning("%s: torch.compile failed (%s); using eager torch", network.name, error)
        return network.descriptor
    if psnr < QUALITY_DB:
        log.warning("%s: compiled model is %.1f dB from eager; using eager", network.name, psnr)
        return network.descriptor
    log.info("%s: torch.compile matches eager at %.1f dB", network.name, psnr)
    return run_compiled
