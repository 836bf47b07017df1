"""What every backend shares: the network it runs, padding to the model's size requirements,
the agreement measure (PSNR against eager torch) and the test picture."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import spandrel
import torch

from vsr.media.metrics import psnr_from_mse

# Backends must agree with eager torch fp32 to within this PSNR (dB) on [0, 1] images; measured
# differences are 55-70 dB (float summation order), while a real defect drops far below 40.
QUALITY_DB = 45.0
CALIBRATION_SIDE = (
    96  # pixels, first try: the heaviest shipped network takes ~1 s at this size on a CPU
)

Forward = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Network:
    """What a backend needs to know about the loaded model."""

    name: str
    descriptor: spandrel.ImageModelDescriptor
    device: torch.device
    dtype: torch.dtype
    ncnn_files: tuple[Path, Path] | None = None
    max_batch: int = 1  # frames or tiles per call at most (TensorRT's shape profile)

    @property
    def scale(self) -> int:
        return self.descriptor.scale

    def digest(self) -> str:
        """Hash of the weights: cache key for exports and calibrations (names can be reused)."""
        sha = hashlib.sha256()
        for key, tensor in sorted(self.descriptor.model.state_dict().items()):
            sha.update(key.encode())
            sha.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
        return sha.hexdigest()[:16]


def padded(run: Forward, batch: torch.Tensor, network: Network) -> torch.Tensor:
    """Pad to the model's size requirements (reflect, as spandrel), run, clamp, crop."""
    _, _, height, width = batch.shape
    pad_w, pad_h = network.descriptor.size_requirements.get_padding(width, height)
    if pad_w or pad_h:
        reflect_w, reflect_h = min(pad_w, width - 1), min(pad_h, height - 1)
        batch = torch.nn.functional.pad(batch, (0, reflect_w, 0, reflect_h), "reflect")
        rest = (0, pad_w - reflect_w, 0, pad_h - reflect_h)
        batch = torch.nn.functional.pad(batch, rest, "replicate")
    output = run(batch).clamp_(0, 1)
    return output[..., : height * network.scale, : width * network.scale]


def psnr_db(reference: torch.Tensor, other: torch.Tensor) -> float:
    """PSNR of `other` against `reference`, both in [0, 1]."""
    mse = torch.mean((reference.float() - other.float()) ** 2).item()
    return psnr_from_mse(mse, peak=1.0)


def probe_batch(network: Network, side: int) -> torch.Tensor:
    """A deterministic smooth test image (noise would flatter no backend and stress none)."""
    axis = torch.linspace(0, 1, side)
    rows, cols = axis[:, None].expand(side, side), axis[None, :].expand(side, side)
    texture = 0.5 + 0.25 * torch.sin(40 * torch.stack([rows * cols, rows, 1 - cols]))
    probe = texture[None].to(network.device, network.dtype)
    return probe.contiguous(memory_format=torch.channels_last)
