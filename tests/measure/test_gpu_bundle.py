"""`make gpu-bundle` and the lent-GPU runner, the parts that run in CI: parts packed within the
limit with the working tree as the device tool counts it, and the runner's probe -> split ->
upscale -> encode of a 10-bit clip through the step commands alone (no Snakemake). The whole
runner in an image-like virtualenv is `make gpu-bundle-test` (minutes: not in CI)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vsr.errors import VsrError
from vsr.measure import gpu_run

ROOT = Path(__file__).resolve().parents[2]
MIB = 2**20


def bundler():
    spec = importlib.util.spec_from_file_location("gpu_bundle", ROOT / "scripts" / "gpu_bundle.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_bundle"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_parts_fill_first_fit_within_the_limit_with_the_tree():
    bundle = bundler()
    sizes = {"anime": 1.1, "cugan": 2.4, "dat": 2.1, "anime-6b": 7.7, "x4plus": 28.6}
    items = [bundle.Item(name, int(mib * MIB), (name,)) for name, mib in sizes.items()]
    common = int((1.8 + 26.0) * MIB)  # the working tree and the wheels every part carries
    parts = bundle.pack(items, common, 60 * MIB)
    assert [[item.name for item in part.items] for part in parts] == [
        ["anime", "cugan", "dat", "anime-6b"],
        ["x4plus"],
    ]
    assert all(common + part.size <= 60 * MIB for part in parts)
    with pytest.raises(VsrError, match=r"^huge: 40.0 MiB does not fit a part: 32.2 MiB are left"):
        bundle.pack([bundle.Item("huge", 40 * MIB)], common, 60 * MIB)


def test_the_tree_is_what_the_device_tool_sends(tmp_path):
    bundle = bundler()
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("/build/\n")
    (tmp_path / "tracked.txt").write_bytes(b"x" * 1000)
    subprocess.run(["git", "-C", str(tmp_path), "add", "tracked.txt", ".gitignore"], check=True)
    (tmp_path / "new.txt").write_bytes(b"y" * 300)  # untracked, not ignored: it travels
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "part1.whl").write_bytes(b"z" * 5000)  # ignored: carried, not sent
    assert bundle.tree_bytes(tmp_path) == 1000 + 300 + len("/build/\n")


def test_pipeline_of_a_ten_bit_clip_through_the_steps(tmp_path):
    record = gpu_run.pipeline("bicubic", "tiny", gpu_run.DRY_CLIP, tmp_path, torch.device("cpu"))
    assert record["ok"], record
    assert record["output"] == {"frames": 4, "size": "256x144", "pix_fmt": "yuv420p10le"}
    assert set(record["steps"]) == {"probe", "split", "upscale", "encode"}
    assert record["device"]["device"] == "cpu" and record["cpu_s_per_frame"] > 0
