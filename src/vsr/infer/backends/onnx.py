"""onnxruntime: the module exported once to ONNX (opset 17, dynamic N/H/W), cached beside the
converted weights; TensorRT and CUDA execution providers when present, else the CPU one."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from vsr.errors import VsrError
from vsr.infer.backends.common import Forward, Network, padded
from vsr.models.cache import atomic_write, models_cache_dir

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
        _export(cpu_model.eval(), example, dest, axes)


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


def ort_providers(network: Network, available: list[str]) -> list[Any]:
    """Execution providers in preference order, with options, for this device and precision."""
    if network.device.type != "cuda":
        return ["CPUExecutionProvider"]
    device_id = network.device.index or 0
    providers: list[Any] = []
    if "TensorrtExecutionProvider" in available:
        engines = models_cache_dir() / "tensorrt"
        engines.mkdir(parents=True, exist_ok=True)
        options = {
            "device_id": device_id,
            "trt_fp16_enable": network.dtype == torch.float16,
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(engines),
        }
        providers.append(("TensorrtExecutionProvider", options))
    if "CUDAExecutionProvider" in available:
        providers.append(("CUDAExecutionProvider", {"device_id": device_id}))
    if not providers:
        raise VsrError("backend=onnxruntime", "onnxruntime has no CUDA or TensorRT provider here")
    return providers


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
    session = ort.InferenceSession(str(onnx_path(network)), options, providers=providers)

    def run(batch: torch.Tensor) -> torch.Tensor:
        array = batch.to("cpu", torch.float32).contiguous().numpy()
        (output,) = session.run(["output"], {"input": array})
        return torch.from_numpy(output).to(batch.device, batch.dtype)

    return lambda batch: padded(run, batch, network)
