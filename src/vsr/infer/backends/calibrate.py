"""`auto`: the fastest backend measured on this device, cached per model weights + device (and
GPU model) + precision + threads, so a machine pays for the calibration once."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch

from vsr.infer.backends.common import (
    CALIBRATION_SIDE,
    QUALITY_DB,
    Forward,
    Network,
    probe_batch,
    psnr_db,
)
from vsr.models.cache import atomic_write, models_cache_dir

log = logging.getLogger(__name__)

CALIBRATION_MAX_SIDE = 384
CALIBRATION_MIN_S = 0.1  # per pass: frames this costly behave like real SD/HD frames
CALIBRATION_ROUNDS = 3
SWITCH_MARGIN = 0.9  # another backend must take under 90% of eager torch's time to be chosen
CHOICES_FILE = "backend-choice.json"
CHOICES_VERSION = "v2"  # bump when calibration changes: older choices are not reused


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
            probe = probe_batch(network, side)
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
    device = str(network.device)
    if network.device.type == "cuda":  # cuda:0 is an A10G on one node and an L4 on another
        device += f"={torch.cuda.get_device_name(network.device)}"
    return f"{CHOICES_VERSION}|{network.name}|{network.digest()}|{device}|{dtype}|{threads}"


def choose(network: Network) -> tuple[str, Forward]:
    """The fastest candidate that matches torch within QUALITY_DB, from the cache or measured."""
    from vsr.infer.backends import BUILDERS, candidates  # the package lists the backends

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
    from vsr.infer.backends import BUILDERS, candidates

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
