"""Host <-> device copies that do not stall the GPU.

On CUDA, frames go up from page-locked (pinned) memory with `non_blocking=True` on a copy stream
of their own, and the compute stream waits on that stream, not the host; results come back the
same way into pinned memory. Pageable memory would make every copy a synchronous staging copy
through the driver. On the CPU both directions are plain tensor views and copies.
"""

from __future__ import annotations

import numpy as np
import torch


class Transfer:
    """Uploads NHWC arrays and downloads NHWC results for one device."""

    def __init__(self, device: torch.device):
        self.device = device
        self.cuda = device.type == "cuda"
        self.stream = torch.cuda.Stream(device) if self.cuda else None

    def upload(self, array: np.ndarray) -> torch.Tensor:
        """An (N,H,W,C) array as a tensor on the device (the same memory on the CPU)."""
        host = torch.from_numpy(array)
        if not self.cuda:
            return host
        # torch's caching host allocator reuses pinned blocks: no pinning cost per call.
        pinned = host.pin_memory()
        assert self.stream is not None
        with torch.cuda.stream(self.stream):
            on_device = pinned.to(self.device, non_blocking=True)
        compute = torch.cuda.current_stream(self.device)
        compute.wait_stream(self.stream)
        on_device.record_stream(compute)  # freed only once the compute stream is done with it
        return on_device

    def download(self, tensor: torch.Tensor, dest: np.ndarray) -> None:
        """Copy a device tensor (already in `dest`'s dtype and shape) into the array."""
        out = torch.from_numpy(dest)
        if not self.cuda:
            out.copy_(tensor)
            return
        assert self.stream is not None
        self.stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self.stream):
            pinned = torch.empty(tensor.shape, dtype=tensor.dtype, pin_memory=True)
            pinned.copy_(tensor, non_blocking=True)
            tensor.record_stream(self.stream)
        self.stream.synchronize()
        out.copy_(pinned)
