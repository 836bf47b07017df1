"""GPUs a job was given and GPUs this machine shows, without importing torch.

The Snakefile asks this at every parse (which upscale jobs hold a `gpu` resource), so it reads
only the environment and /dev.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

NO_DEVICES = {"", "-1", "none", "nodevfiles", "void"}
# What Slurm sets for a job or step holding GPUs. These list the GPUs' indices ("0" is the
# first GPU, "0,1" two of them)...
SLURM_GPU_INDEX_VARIABLES = ("SLURM_JOB_GPUS", "SLURM_STEP_GPUS")
# ...and these count them (--gpus, --gpus-per-node, --gpus-per-task; "0" holds none, a typed
# count is "a10g:1").
SLURM_GPU_COUNT_VARIABLES = (
    "SLURM_GPUS",
    "SLURM_GPUS_ON_NODE",
    "SLURM_GPUS_PER_NODE",
    "SLURM_GPUS_PER_TASK",
)


def assigned_gpus(env: Mapping[str, str]) -> str | None:
    """How the scheduler gave this job GPUs (e.g. `CUDA_VISIBLE_DEVICES=0`), or None."""
    for key in SLURM_GPU_INDEX_VARIABLES:
        if env.get(key, "").strip().lower() not in NO_DEVICES:
            return f"{key}={env[key]}"
    for key in SLURM_GPU_COUNT_VARIABLES:
        count = env.get(key, "").strip().lower().rpartition(":")[2]
        if count not in NO_DEVICES and count.strip("0") != "":
            return f"{key}={env[key]}"
    for key in ("SLURM_JOB_GRES", "SLURM_GRES"):
        if "gpu" in env.get(key, ""):
            return f"{key}={env[key]}"
    cuda = env.get("CUDA_VISIBLE_DEVICES")
    if cuda is not None and cuda.strip().lower() not in NO_DEVICES:
        return f"CUDA_VISIBLE_DEVICES={cuda}"
    return None


def nvidia_device_files(dev: Path = Path("/dev")) -> bool:
    """True where an NVIDIA GPU device file exists (a real GPU behind a scheduler's grant)."""
    return any(re.fullmatch(r"nvidia\d+", path.name) for path in _entries(dev))


def visible_gpu_count(env: Mapping[str, str], dev: Path = Path("/dev")) -> int:
    """GPUs a CUDA program started here would see: CUDA_VISIBLE_DEVICES when it is set, else
    the NVIDIA device files."""
    cuda = env.get("CUDA_VISIBLE_DEVICES")
    devices = sum(1 for path in _entries(dev) if re.fullmatch(r"nvidia\d+", path.name))
    if cuda is None:
        return devices
    if cuda.strip().lower() in NO_DEVICES:
        return 0
    return min(len([item for item in cuda.split(",") if item.strip()]), devices)


def _entries(dev: Path) -> list[Path]:
    try:
        return list(dev.iterdir())
    except OSError:
        return []


def upscale_gpus(device: str, env: Mapping[str, str], dev: Path = Path("/dev")) -> int:
    """GPUs one upscale job holds (the `gpu` resource of the upscale rules): 1 where it will
    run on CUDA (an explicit cuda device, or `auto` with a GPU in sight), else 0."""
    if device.startswith("cuda"):
        return 1
    return 1 if device == "auto" and visible_gpu_count(env, dev) > 0 else 0
