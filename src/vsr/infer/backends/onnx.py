"""onnxruntime: the module exported once to ONNX (opset 17, dynamic N/H/W), cached beside the
converted weights; TensorRT and CUDA execution providers when present, else the CPU one."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vsr.errors import VsrError
from vsr.infer.backends.common import Forward, Network, padded
from vsr.models.cache import atomic_write, models_cache_dir

log = logging.getLogger(__name__)

ONNX_OPSET = 17


def _has_onnxruntime() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _onnx_usable(network: Network) -> bool:
    # fp32 everywhere; on CUDA also fp16 (TensorRT builds fp16 engines from the fp32 graph).
    return network.dtype == torch.float32 or (
        network.device.type == "cuda" and network.dtype == torch.float16
    )


def onnx_path(network: Network) -> Path:
    """The cached ONNX export of this network, exported once (atomically) if missing."""
    dest = models_cache_dir() / f"{network.name}-{network.digest()}-opset{ONNX_OPSET}.onnx"
    if not dest.is_file():
        atomic_write(dest, lambda tmp: export_onnx(network.descriptor.model, tmp))
    return dest


def export_onnx(model: torch.nn.Module, dest: Path) -> None:
    """fp32 CPU export of a copy (the live module keeps its device, dtype and layout)."""
    import copy

    cpu_model = copy.deepcopy(model).to("cpu", torch.float32)
    cpu_model.to(memory_format=torch.contiguous_format)
    example = torch.rand(1, 3, 64, 64)
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated but exact here
        warnings.simplefilter("ignore", DeprecationWarning)
        _export(_PictureOnly(cpu_model.eval()), example, dest, axes)


class _PictureOnly(torch.nn.Module):
    """The network called with the picture alone: its other forward arguments (a denoising
    strength, say) keep their defaults, as constants of the graph, not inputs nobody feeds."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _export(model: torch.nn.Module, example: torch.Tensor, dest: Path, axes: dict) -> None:
    torch.onnx.export(
        model,
        (example,),
        str(dest),
        dynamo=False,
        opset_version=ONNX_OPSET,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": axes, "output": axes},
    )


# TensorRT optimisation profile: one engine for every frame and tile shape up to this side and
# the Upscaler's batch, instead of an engine build per new input shape.
TRT_MIN_SIDE = 16
TRT_OPT_SIDE = 512
TRT_MAX_SIDE = 1920


def trt_profile(batch: int, multiple: int = 1) -> dict[str, str]:
    """trt_profile_{min,opt,max}_shapes for the `input` tensor (sides padded to `multiple`)."""

    def side(value: int) -> int:
        return -(-value // multiple) * multiple

    low, opt, high = side(TRT_MIN_SIDE), side(TRT_OPT_SIDE), side(TRT_MAX_SIDE)
    return {
        "trt_profile_min_shapes": f"input:1x3x{low}x{low}",
        "trt_profile_opt_shapes": f"input:{batch}x3x{opt}x{opt}",
        "trt_profile_max_shapes": f"input:{batch}x3x{high}x{high}",
    }


def ort_providers(network: Network, available: list[str]) -> list[Any]:
    """Execution providers in preference order, with options, for this device and precision."""
    if network.device.type != "cuda":
        return ["CPUExecutionProvider"]
    device_id = network.device.index or 0
    providers: list[Any] = []
    if "TensorrtExecutionProvider" in available:
        engines = models_cache_dir() / "tensorrt"
        engines.mkdir(parents=True, exist_ok=True)
        multiple = network.descriptor.size_requirements.multiple_of
        options = {
            "device_id": device_id,
            "trt_fp16_enable": network.dtype == torch.float16,
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(engines),
            **trt_profile(network.max_batch, multiple),
        }
        providers.append(("TensorrtExecutionProvider", options))
    if "CUDAExecutionProvider" in available:
        providers.append(("CUDAExecutionProvider", {"device_id": device_id}))
    if not providers:
        raise VsrError(
            "backend=onnxruntime",
            "onnxruntime has no CUDA or TensorRT provider here (install onnxruntime-gpu: "
            "pip install -r requirements-gpu.txt)",
        )
    return providers


def provider_names(providers: list[Any]) -> list[str]:
    return [item[0] if isinstance(item, tuple) else item for item in providers]


def check_providers(requested: list[str], used: list[str]) -> str | None:
    """One-line error when no requested accelerator loaded; a warning (returned, to be logged)
    when a preferred one fell back to a later one; None when the first choice runs."""
    if not requested or requested[0] in used:
        return None
    loaded = [name for name in requested if name in used]
    missing = ", ".join(name for name in requested if name not in used)
    if not loaded:
        raise VsrError(
            "backend=onnxruntime",
            f"{missing} did not load (onnxruntime runs {', '.join(used) or 'nothing'}); "
            "check CUDA/cuDNN/TensorRT libraries against onnxruntime-gpu",
        )
    return f"{missing} did not load; onnxruntime runs on {loaded[0]}"


def run_precision(network: Network, used: list[str]) -> str:
    """What ONNX Runtime computes in: fp16 only through TensorRT's fp16 engines; the graph
    itself is fp32, so the CUDA and CPU providers run fp32 whatever the Upscaler asked."""
    if network.dtype == torch.float16 and used and used[0] == "TensorrtExecutionProvider":
        return "fp16"
    return "fp32"


def onnxruntime_forward(network: Network) -> Forward:
    import onnxruntime as ort

    if not _onnx_usable(network):
        raise VsrError("backend=onnxruntime", "runs fp32 (or fp16 via TensorRT on CUDA) only")
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No spin-waiting between calls: decode and write threads need those cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = ort_providers(network, ort.get_available_providers())
    if network.device.type == "cuda" and hasattr(ort, "preload_dlls"):
        # CUDA and cuDNN from torch's NVIDIA wheels: onnxruntime-gpu ships neither.
        ort.preload_dlls()
    session = ort.InferenceSession(str(onnx_path(network)), options, providers=providers)
    used = session.get_providers()
    fallback = check_providers(provider_names(providers), used)
    if fallback:
        log.warning("%s: %s", network.name, fallback)
    device_type = "cuda" if network.device.type == "cuda" else "cpu"
    device_id = network.device.index or 0

    def run(batch: torch.Tensor) -> torch.Tensor:
        # IO binding: ONNX Runtime reads the input and writes the output where torch holds
        # them (device memory on CUDA), with no round trip through host numpy arrays.
        inputs = batch.to(torch.float32).contiguous()
        count, _, height, width = inputs.shape
        scale = network.scale
        output = torch.empty((count, 3, height * scale, width * scale), device=inputs.device)
        binding = session.io_binding()
        binding.bind_input(
            "input", device_type, device_id, np.float32, tuple(inputs.shape), inputs.data_ptr()
        )
        binding.bind_output(
            "output", device_type, device_id, np.float32, tuple(output.shape), output.data_ptr()
        )
        if device_type == "cuda":
            torch.cuda.current_stream(network.device).synchronize()  # input written by torch
        session.run_with_iobinding(binding)
        return output.to(batch.dtype)

    def forward(batch: torch.Tensor) -> torch.Tensor:
        return padded(run, batch, network)

    forward.providers = used  # type: ignore[attr-defined]
    forward.precision = run_precision(network, used)  # type: ignore[attr-defined]
    if used and used[0] == "TensorrtExecutionProvider":
        forward.max_side = TRT_MAX_SIDE  # type: ignore[attr-defined]
    return forward
