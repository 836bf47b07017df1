"""ncnn: a family's original `.param`/`.bin` as shipped (CPU, fp32 arithmetic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vsr.errors import VsrError
from vsr.infer.backends.common import Forward, Network, padded
from vsr.models.ncnn import parse_param


def ncnn_blob_names(param_path: Path) -> tuple[str, str]:
    """(input, output) blob names: the Input layer's output and the last layer's output."""
    layers = parse_param(param_path.read_text(), param_path)
    first, last = layers[0], layers[-1]
    if first.kind != "Input":
        raise VsrError(param_path, "ncnn graph does not start with an Input layer")
    return first.outputs[0], last.outputs[0]


def ncnn_forward(network: Network) -> Forward:
    import ncnn

    if network.ncnn_files is None:
        raise VsrError(f"backend=ncnn ({network.name})", "no ncnn .param/.bin for this model")
    if network.device.type != "cpu" or network.dtype != torch.float32:
        raise VsrError("backend=ncnn", "runs on the CPU in fp32 only (device=cpu, precision=fp32)")
    param, weights = network.ncnn_files
    blob_in, blob_out = ncnn_blob_names(param)
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = torch.get_num_threads()
    # Idle OpenMP workers sleep at once instead of spinning on the cores decode/write threads need.
    net.opt.openmp_blocktime = 0
    # fp32 storage and arithmetic: fp16/bf16 paths would cost the PSNR target.
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
    net.opt.use_bf16_storage = False
    if net.load_param(str(param)) or net.load_model(str(weights)):
        raise VsrError(param, "ncnn could not load this model")

    def run_one(chw: np.ndarray) -> np.ndarray:
        with net.create_extractor() as extractor:
            extractor.input(blob_in, ncnn.Mat(chw))
            status, output = extractor.extract(blob_out)
        if status:
            raise VsrError(param, f"ncnn inference failed (status {status})")
        return np.array(output)

    def run(batch: torch.Tensor) -> torch.Tensor:
        images = batch.contiguous().numpy()
        return torch.from_numpy(np.stack([run_one(np.ascontiguousarray(im)) for im in images]))

    return lambda batch: padded(run, batch, network)
