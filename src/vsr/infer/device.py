"""Which device and precision a model runs on, said out loud.

- `device: auto` takes CUDA where torch can use it. Where the scheduler assigned this job a GPU
  (Slurm `--gres`/`--gpus`: CUDA_VISIBLE_DEVICES, SLURM_*GPUS*) on a node that has NVIDIA device
  files but torch cannot use it (driver older than the torch build's CUDA, an architecture the
  build has no kernels for), that is an error, not a CPU run at a hundredth of the speed.
- `precision: auto` is per model, per device and per source: fp16 where the architecture
  supports it (spandrel's `supports_half`), else bf16 where the device has it, else fp32; fp32
  on the CPU. A 16-bit type is chosen only where it keeps the source's levels: bf16 for 8-bit
  sources, fp16 up to 10 bits.
- `device_report` is what the job logs and writes into summary.json (`device`).

The decisions are plain functions of their inputs, so they are tested without a GPU.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from vsr.errors import VsrError
from vsr.infer.visible import assigned_gpus, nvidia_device_files

log = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
PRECISION_NAMES = {dtype: name for name, dtype in PRECISIONS.items()}
# Oldest Linux driver that runs a CUDA major version (minor-version compatibility), from NVIDIA's
# CUDA release notes: a torch +cu130 wheel needs 580.65.06 or newer.
MIN_DRIVER = {11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}
DRIVER_FILE = Path("/proc/driver/nvidia/version")


def cuda_problem() -> str | None:
    """Why torch cannot use CUDA here (one line), or None when it can."""
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is a CPU-only build"
    try:
        torch.cuda.init()
    except Exception as error:  # torch raises RuntimeError/AssertionError with the driver's text
        return " ".join(str(error).split())[:200]
    if torch.cuda.device_count() == 0:
        return "no CUDA device visible"
    capability = torch.cuda.get_device_capability(0)
    if not arch_supported(capability, torch.cuda.get_arch_list()):
        name = torch.cuda.get_device_name(0)
        return (
            f"{name} (sm_{capability[0]}{capability[1]}) has no kernels in torch "
            f"{torch.__version__} (built for {' '.join(torch.cuda.get_arch_list())})"
        )
    return None


def arch_supported(capability: tuple[int, int], arch_list: list[str]) -> bool:
    """True when a build with these architectures runs on a GPU of this compute capability:
    the same major with an equal or lower minor (binary compatible), or PTX it can JIT."""
    major, minor = capability
    for arch in arch_list:
        match = re.fullmatch(r"(sm|compute)_(\d+)(\d)[a-z]?", arch)
        if not match:
            continue
        kind, arch_major, arch_minor = match.group(1), int(match.group(2)), int(match.group(3))
        if kind == "sm" and arch_major == major and arch_minor <= minor:
            return True
        if kind == "compute" and (arch_major, arch_minor) <= (major, minor):
            return True
    return False


def fallback_error(assigned: str | None, device_files: bool, problem: str) -> str | None:
    """The one-line error for `device: auto` without usable CUDA, or None where the CPU is the
    honest answer (no GPU assigned, or a scheduler's placeholder GPU with no device behind it)."""
    if assigned and device_files:
        return f"this job was given a GPU ({assigned}) but CUDA is unusable: {problem}"
    return None


def resolve_device(device: str, env: Mapping[str, str] | None = None) -> torch.device:
    """The torch device for a config value (auto, cpu, cuda, cuda:N, mps); a one-line error for
    CUDA that cannot run, or an ordinal beyond the visible devices."""
    env = os.environ if env is None else env
    label = f"device={device}"
    if device == "auto":
        problem = cuda_problem()
        if problem is None:
            return torch.device("cuda", 0)
        assigned = assigned_gpus(env)
        error = fallback_error(assigned, nvidia_device_files(), problem)
        if error:
            raise VsrError(label, error)
        if assigned:
            log.warning("%s assigned but no NVIDIA device on this node: CPU", assigned)
        log.info("device auto: CPU (%s)", problem)
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as error:
        raise VsrError(label, "unknown device (auto, cpu, cuda, cuda:N)") from error
    if chosen.type == "cuda":
        problem = cuda_problem()
        if problem is not None:
            raise VsrError(label, f"CUDA is not usable on this machine: {problem}")
        check_ordinal(chosen, torch.cuda.device_count())
        chosen = torch.device("cuda", chosen.index or 0)
    return chosen


def check_ordinal(device: torch.device, visible: int) -> None:
    if device.index is not None and device.index >= visible:
        raise VsrError(
            f"device={device}",
            f"only {visible} CUDA device{'s' if visible != 1 else ''} visible "
            f"(cuda:0..cuda:{visible - 1}; CUDA_VISIBLE_DEVICES="
            f"{os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})",
        )


# The deepest source (bits per sample) each 16-bit type carries through a network without
# merging its levels: bf16 keeps 8 significant bits (a 10-bit ramp through DAT kept 107 of 420
# levels), fp16 11.
SOURCE_BITS_LIMIT = {"fp16": 10, "bf16": 8}


def auto_precision(
    device_type: str,
    supports_half: bool,
    supports_bf16: bool,
    device_bf16: bool,
    source_bits: int = 8,
) -> str:
    """`precision: auto` for one model on one device and a source of `source_bits` bits."""
    if device_type != "cuda":
        return "fp32"  # CPU fp16 is slow and bf16 loses detail for little gain without AMX
    if supports_half and source_bits <= SOURCE_BITS_LIMIT["fp16"]:
        return "fp16"
    if supports_bf16 and device_bf16 and source_bits <= SOURCE_BITS_LIMIT["bf16"]:
        return "bf16"
    return "fp32"


def device_bf16(device: torch.device) -> bool:
    """bf16 arithmetic in hardware (Ampere, sm_80, and newer)."""
    if device.type != "cuda":
        return False
    return torch.cuda.get_device_capability(device)[0] >= 8


def resolve_dtype(
    precision: str, device: torch.device, descriptor: Any, label: str, source_bits: int = 8
) -> str:
    """The precision name to run at: `auto` decided per model, device and the source's bit
    depth, explicit values checked against what the device and the architecture support."""
    if precision == "auto":
        return auto_precision(
            device.type,
            bool(descriptor.supports_half),
            bool(descriptor.supports_bfloat16),
            device_bf16(device),
            source_bits,
        )
    if precision not in PRECISIONS:
        raise VsrError(
            f"precision={precision}", f"unknown precision (auto, {', '.join(PRECISIONS)})"
        )
    if precision == "fp16" and device.type != "cuda":
        raise VsrError(f"precision={precision}", "fp16 needs a CUDA device; use fp32 or bf16")
    if (precision == "fp16" and not descriptor.supports_half) or (
        precision == "bf16" and not descriptor.supports_bfloat16
    ):
        hint = "bf16 or fp32" if precision == "fp16" else "fp32"
        raise VsrError(label, f"this architecture does not support {precision}; use {hint}")
    if source_bits > SOURCE_BITS_LIMIT.get(precision, source_bits):
        log.warning(
            "%s: precision %s keeps about %d bits; this %d-bit source loses levels (auto: fp32)",
            label,
            precision,
            SOURCE_BITS_LIMIT[precision],
            source_bits,
        )
    return precision


def driver_version() -> str | None:
    """The NVIDIA kernel driver's version (e.g. 580.65.06), or None where there is none."""
    try:
        match = re.search(r"Kernel Module\s+(?:for \S+\s+)?([\d.]+)", DRIVER_FILE.read_text())
        if match:
            return match.group(1)
    except OSError:
        pass
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.split()
    return lines[0] if done.returncode == 0 and lines else None


def driver_problem(driver: str | None, cuda_version: str | None) -> str | None:
    """Why this driver cannot run this torch build's CUDA, or None when it can (or is absent:
    that is `cuda_problem`'s business)."""
    if driver is None or cuda_version is None:
        return None
    major = int(cuda_version.split(".")[0])
    needed = MIN_DRIVER.get(major)
    if needed and _version(driver) < _version(needed):
        return f"NVIDIA driver {driver} is older than {needed}, which CUDA {cuda_version} needs"
    return None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def device_report(
    device: torch.device, precision: str, backend: str, providers: list[str] | None = None
) -> dict[str, Any]:
    """What the job actually runs on: logged at start and kept in summary.json `device`."""
    report: dict[str, Any] = {
        "device": str(device),
        "gpu": None,
        "driver": None,
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "precision": precision,
        "backend": backend,
        "providers": providers,
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        report.update(
            gpu=props.name,
            capability=f"sm_{props.major}{props.minor}",
            memory_mb=props.total_memory // 2**20,
            driver=driver_version(),
        )
    return report


def describe(report: dict[str, Any]) -> str:
    where = report["device"]
    if report["gpu"]:
        where += f" ({report['gpu']}, driver {report['driver']}, torch CUDA {report['torch_cuda']})"
    providers = f" [{', '.join(report['providers'])}]" if report.get("providers") else ""
    return f"{where}, {report['precision']}, backend {report['backend']}{providers}"


def node_problems() -> list[str]:
    """Why this GPU node cannot run the pipeline's torch build at GPU speed (empty: it can)."""
    return problems_of(driver_version(), torch.version.cuda, cuda_problem())


def problems_of(driver: str | None, torch_cuda: str | None, cuda: str | None) -> list[str]:
    """`node_problems` from what the node reports: the driver's version (None where neither
    /proc/driver/nvidia/version nor nvidia-smi exists, as in some containers and sandboxes),
    the torch build's CUDA version, and why CUDA cannot start (None: it starts). CUDA that
    starts is the proof that counts; a driver that is found must still be new enough."""
    if driver is None:
        if cuda is None:
            return []
        return [f"no NVIDIA driver (no /proc/driver/nvidia/version, no nvidia-smi): {cuda}"]
    problems = [p for p in (driver_problem(driver, torch_cuda), cuda) if p]
    return list(dict.fromkeys(problems))


def main(argv: list[str] | None = None) -> int:
    """`python -m vsr.infer.device --check-node`: what the AMI build and a GPU node's bootstrap
    run; one FAIL line per problem and exit 1, so the node fails loudly instead of upscaling
    on its CPUs. Without arguments: the device report `device: auto` would give."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(prog="python -m vsr.infer.device")
    parser.add_argument("--check-node", action="store_true", help="fail unless CUDA is usable")
    args = parser.parse_args(argv)
    if args.check_node:
        problems = node_problems()
        for problem in problems:
            print(f"vsr node check: FAIL: {problem}", file=sys.stderr)
        if problems:
            return 1
    report = device_report(resolve_device("auto"), "auto", "torch")
    print(("vsr node check: OK: " if args.check_node else "") + json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
