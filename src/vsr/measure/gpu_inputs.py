"""What `vsr.measure.gpu_check` feeds the device: real pictures, a 10-bit frame with white at
65535, fp16 arithmetic on the CPU, an injected out-of-memory error, and a sampler of the GPU's
busy share."""

from __future__ import annotations

import re
import subprocess
import threading

import numpy as np
import torch

from vsr.infer.upscaler import Upscaler


def picture(height: int, width: int, top: int = 100) -> np.ndarray:
    from skimage import data, transform

    photo = data.astronaut()
    if height + top > photo.shape[0] or width > photo.shape[1]:
        scaled = transform.resize(photo, (height + top, max(width, 512)), anti_aliasing=True)
        photo = (scaled * 255).round().astype(np.uint8)
    return np.ascontiguousarray(photo[top : top + height, :width])


def ten_bit_frame(side: int) -> np.ndarray:
    """A 10-bit picture as swscale's rgb48le gives it (<< 6), with a white patch at 65535."""
    frame = (picture(side, side).astype(np.uint16) * 4 + 3) << 6
    frame[4 : side // 2, 4 : side // 2] = 65535
    return frame[None]


def computing_in_fp16(upscaler: Upscaler) -> Upscaler:
    """The same Upscaler computing in fp16, as `precision: auto` runs fp16-capable models on
    CUDA (torch runs fp16 convolutions on the CPU too; the Upscaler allows it on CUDA only)."""
    upscaler._descriptor.to(torch.float16)
    upscaler.dtype, upscaler.precision = torch.float16, "fp16"
    return upscaler


def inject_out_of_memory(upscaler: Upscaler, times: int = 1) -> list[tuple[int, ...]]:
    """Make the first `times` model calls raise torch.OutOfMemoryError, as a GPU out of memory
    would; returns the input shapes of every call, for checking what the retry did."""
    forward, calls = upscaler._forward, []

    def failing(batch: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(batch.shape))
        if len(calls) <= times:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return forward(batch)

    upscaler._forward = failing
    return calls


class BusySampler:
    """GPU busy share and device-wide memory in use (nvidia-smi utilization.gpu and
    memory.used, sampled every 0.1 s) while a run lasts: it sees other processes' use too,
    a workflow step's included."""

    def __init__(self, index: int):
        self.index, self.samples, self.stop = index, [], threading.Event()
        self.memory_mb: list[int] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        query = [
            "nvidia-smi",
            f"--id={self.index}",
            "--query-gpu=utilization.gpu,memory.used",
            "--format=csv,noheader,nounits",
            "-lms",
            "100",
        ]
        try:
            with subprocess.Popen(query, stdout=subprocess.PIPE, text=True) as process:
                assert process.stdout is not None
                for line in process.stdout:
                    fields = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*", line)
                    if fields:
                        self.samples.append(int(fields[1]))
                        self.memory_mb.append(int(fields[2]))
                    if self.stop.is_set():
                        process.terminate()
                        break
        except OSError:
            pass

    def __enter__(self) -> BusySampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)

    @property
    def share(self) -> float | None:
        return sum(self.samples) / len(self.samples) / 100 if self.samples else None

    @property
    def peak_memory_mb(self) -> int | None:
        return max(self.memory_mb) if self.memory_mb else None
