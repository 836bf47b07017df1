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
  converted weights; TensorRT (fp16 when asked) and CUDA execution providers when present,
  else the CPU one.
- ncnn: the original Real-ESRGAN `.param`/`.bin` (CPU, fp32 arithmetic) for registry models
  that ship them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import spandrel
import torch

from vsr.errors import VsrError
from vsr.models.cache import atomic_write, models_cache_dir

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "torch-compile", "onnxruntime", "ncnn")
ONNX_OPSET = 17
# Backends must agree with eager torch fp32 to within this PSNR (dB) on [0, 1] images; measured
# differences are 55-70 dB (float summation order), while a real defect drops far below 40.
QUALITY_DB = 45.0
CALIBRATION_SIDE = 96  # pixels, first try: one x4plus pass at this size already takes ~1 s
CALIBRATION_MAX_SIDE = 384
CALIBRATION_MIN_S = 0.1  # per pass: frames this costly behave like real SD/HD frames
CALIBRATION_ROUNDS = 3
SWITCH_MARGIN = 0.9  # another backend must take under 90% of eager torch's time to be chosen
CHOICES_FILE = "backend-choice.json"
CHOICES_VERSION = "v2"  # bump when calibration changes: older choices are not reused

Forward = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Network:
    """What a backend needs to know about the loaded model."""

    name: str
    descriptor: spandrel.ImageModelDescriptor
    device: torch.device
    dtype: torch.dtype
    ncnn_files: tuple[Path, Path] | None = None

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


def build(backend: str, network: Network) -> tuple[str, Forward]:
    """(name of the backend chosen, its forward function)."""
    if backend not in BACKENDS:
        raise VsrError(f"backend={backend}", f"unknown backend (one of {', '.join(BACKENDS)})")
    if backend == "auto" and candidates(network) == ["torch"]:
        return "torch", torch_forward(network)  # nothing to compare: no calibration
    if backend == "auto":
        return choose(network)
    return backend, BUILDERS[backend](network)


def candidates(network: Network) -> list[str]:
    """Backends worth timing for this device and precision (torch always works)."""
    names = ["torch"]
    if not any(True for _ in network.descriptor.model.parameters()):
        return names  # a weightless model (bicubic) is one torch call: nothing to gain
    if _onnx_usable(network) and _has_onnxruntime():
        names.append("onnxruntime")
    if network.ncnn_files and network.device.type == "cpu" and network.dtype == torch.float32:
        names.append("ncnn")
    return names


# --- torch ----------------------------------------------------------------------------------


def torch_forward(network: Network) -> Forward:
    return network.descriptor


def compiled_forward(network: Network) -> Forward:
    """torch.compile of the module, or eager (with a warning) if it fails or drifts from eager."""
    # Autotuning pays off on GPUs only; CUDA graphs would pin every input shape's buffers.
    mode = "max-autotune-no-cudagraphs" if network.device.type == "cuda" else None
    compiled = torch.compile(network.descriptor.model, mode=mode)

    def forward(batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return _padded(lambda x: compiled(x), batch, network)

    probe = _probe_batch(network, CALIBRATION_SIDE)
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


# --- onnxruntime ----------------------------------------------------------------------------


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

    return lambda batch: _padded(run, batch, network)


# --- ncnn -----------------------------------------------------------------------------------


def ncnn_blob_names(param_path: Path) -> tuple[str, str]:
    """(input, output) blob names: the Input layer's output and the last layer's output."""
    layers = [line.split() for line in param_path.read_text().splitlines()[2:] if line.strip()]
    first, last = layers[0], layers[-1]
    if first[0] != "Input":
        raise VsrError(param_path, "ncnn graph does not start with an Input layer")
    n_in = int(last[2])
    return first[4], last[4 + n_in]


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

    return lambda batch: _padded(run, batch, network)


BUILDERS: dict[str, Callable[[Network], Forward]] = {
    "torch": torch_forward,
    "torch-compile": compiled_forward,
    "onnxruntime": onnxruntime_forward,
    "ncnn": ncnn_forward,
}


# --- shared helpers -------------------------------------------------------------------------


def _padded(run: Forward, batch: torch.Tensor, network: Network) -> torch.Tensor:
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
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def _probe_batch(network: Network, side: int) -> torch.Tensor:
    """A deterministic smooth test image (noise would flatter no backend and stress none)."""
    axis = torch.linspace(0, 1, side)
    rows, cols = axis[:, None].expand(side, side), axis[None, :].expand(side, side)
    texture = 0.5 + 0.25 * torch.sin(40 * torch.stack([rows * cols, rows, 1 - cols]))
    probe = texture[None].to(network.device, network.dtype)
    return probe.contiguous(memory_format=torch.channels_last)


def _seconds(forward: Forward, batch: torch.Tensor, device: torch.device) -> float:
    """Seconds of one call (warm-up calls are the caller's business)."""
    _synchronize(device)
    start = time.perf_counter()
    forward(batch)
    _synchronize(device)
    return time.perf_counter() - start


def calibration_probe(network: Network) -> torch.Tensor:
    """The smallest square probe (doubling from CALIBRATION_SIDE) one eager pass of which takes
    CALIBRATION_MIN_S: light models are timed on realistic sizes, heavy ones stay cheap."""
    side = CALIBRATION_SIDE
    with torch.inference_mode():
        while True:
            probe = _probe_batch(network, side)
            network.descriptor(probe)  # warm-up: first call at a size allocates
            if (
                side >= CALIBRATION_MAX_SIDE
                or _seconds(network.descriptor, probe, network.device) >= CALIBRATION_MIN_S
            ):
                return probe
            side = min(2 * side, CALIBRATION_MAX_SIDE)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def calibration_key(network: Network) -> str:
    dtype = str(network.dtype).removeprefix("torch.")
    threads = torch.get_num_threads()
    return f"{CHOICES_VERSION}|{network.name}|{network.digest()}|{network.device}|{dtype}|{threads}"


def choose(network: Network) -> tuple[str, Forward]:
    """The fastest candidate that matches torch within QUALITY_DB, from the cache or measured."""
    key = calibration_key(network)
    choices_path = models_cache_dir() / CHOICES_FILE
    cached = _read_choices(choices_path).get(key)
    if cached and cached.get("backend") in candidates(network):
        return cached["backend"], BUILDERS[cached["backend"]](network)
    timings, forwards = measure(network)
    best = pick(timings)
    _record_choice(choices_path, key, {"backend": best, "seconds": timings})
    log.info("%s: backend %s (calibration s/pass: %s)", network.name, best, timings)
    return best, forwards[best]


def pick(timings: dict[str, float]) -> str:
    """The fastest backend; eager torch unless another is faster by more than timing noise."""
    fastest = min(timings, key=lambda name: timings[name])
    if "torch" in timings and timings[fastest] > SWITCH_MARGIN * timings["torch"]:
        return "torch"
    return fastest


def measure(network: Network) -> tuple[dict[str, float], dict[str, Forward]]:
    """Best seconds per calibration pass of every candidate that matches torch within QUALITY_DB,
    over interleaved rounds."""
    probe = calibration_probe(network)
    with torch.inference_mode():
        reference = network.descriptor(probe)
    forwards: dict[str, Forward] = {}
    for name in candidates(network):
        try:
            forward = BUILDERS[name](network)
            with torch.inference_mode():
                agreement = psnr_db(reference, forward(probe))  # also the warm-up call
        except Exception as error:  # a broken optional backend must not stop the job
            log.warning("%s: backend %s unusable here (%s)", network.name, name, error)
            continue
        if agreement < QUALITY_DB:
            log.warning("%s: %s %.1f dB from torch; skipped", network.name, name, agreement)
            continue
        forwards[name] = forward
    timings = dict.fromkeys(forwards, math.inf)
    with torch.inference_mode():
        for _ in range(CALIBRATION_ROUNDS):
            for name, forward in forwards.items():
                timings[name] = min(timings[name], _seconds(forward, probe, network.device))
    return timings, forwards


def _read_choices(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _record_choice(path: Path, key: str, value: dict[str, Any]) -> None:
    # Read-modify-replace: concurrent jobs may each calibrate once; no reader sees a torn file.
    choices = {**_read_choices(path), key: value}
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(choices, indent=1) + "\n"))
