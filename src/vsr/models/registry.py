"""Named models, and loading any model (name, local checkpoint or URL) through spandrel.

A registry name stands for a family with one or more scales (`dat-light`: x2, x3, x4); the
family's own entry is its default-scale model, and `<family>-x<scale>` names one scale of it
(`dat-light-x2`). The families themselves are the catalogue's (`catalogue.py`, one module per
family). A checkpoint (file, URL, a family's own reference such as `swin2sr:<hub id>`) has the
one scale it was trained for. spandrel detects the architecture from the state dict's keys and
shapes and builds it, so this module only has to find the weights: for a registry name, what its
family says (see `weights.py`); otherwise a local `.pth`/`.safetensors` or an http(s)/file URL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsr.errors import VsrError
from vsr.models import catalogue, download
from vsr.models.checkpoint import load_checked
from vsr.models.spec import ModelSpec
from vsr.models.weights import weights_path

if TYPE_CHECKING:
    import spandrel
    import torch

# torch and spandrel are imported only where a model is built: checking a manifest's model names
# (every Snakefile parse, on the head node and in every cluster job) must not pay seconds for them.

SCALED_NAME = catalogue.SCALED_NAME


class Registry(Mapping[str, ModelSpec]):
    """Family name -> its spec (at its default scale), as the catalogue holds them;
    `<family>-x<scale>` also looks up one scale of a family (pinned: that scale only), though
    only families are listed."""

    def __getitem__(self, name: str) -> ModelSpec:
        families = catalogue.families()
        if name in families:
            return families[name]
        scaled = SCALED_NAME.match(name)
        if scaled is None or scaled["family"] not in families:
            raise KeyError(name)
        spec = at_scale(families[scaled["family"]], int(scaled["scale"]))
        return replace(spec, name=name, scales=())

    def __contains__(self, name: object) -> bool:
        return name in catalogue.families()

    def __iter__(self) -> Iterator[str]:
        return iter(list(catalogue.families()))

    def __len__(self) -> int:
        return len(catalogue.families())


REGISTRY = Registry()
DEFAULT_MODEL: dict[str, str] = catalogue.default_models()


def list_models() -> list[ModelSpec]:
    """One entry per family (at its default scale); `ModelSpec.all_scales` gives the others."""
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
    # Weightless stays weightless; another scale's network is not counted here.
    params = 0 if spec.params == 0 else None
    return replace(spec, name=f"{spec.name}-x{scale}", scale=scale, scales=(), params=params)


def model_at_scale(name_or_path: str, scale: int) -> str:
    """A model name that `resolve_model` maps to `name_or_path`'s family at `scale`."""
    spec = resolve_model(name_or_path)
    return name_or_path if spec.scale == scale else at_scale(spec, scale).name


def model_for_title(name_or_path: str, requested: Any, info: dict[str, Any]) -> dict[str, Any]:
    """The picture plan's model record for the title whose probe is `info`: the model of
    `name_or_path`'s family at the scale `upscale.scale` (`requested`) picks (`model`: a name
    `resolve_model` maps to it), and the resize after it (see vsr.media.model_scale)."""
    from vsr.media.model_scale import choose_scale, resize_after

    spec = resolve_model(name_or_path)
    scale = choose_scale(spec.all_scales, requested, info, name_or_path)
    chosen = name_or_path if scale == spec.scale else at_scale(spec, scale).name
    return {**resize_after(info, scale), "model": chosen}


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
    opener = catalogue.reference_opener(name_or_path)
    if opener is not None:
        return opener.open_reference(name_or_path)
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
        return load_checked(weights_path(spec), spec.name)
    return spec.loader(spec)


def load_descriptor(name_or_path: str, sha256: str | None = None) -> spandrel.ImageModelDescriptor:
    return open_model(name_or_path, sha256)[1]


def load_model(name_or_path: str, sha256: str | None = None) -> torch.nn.Module:
    """An eval-mode fp32 CPU module mapping (N,3,H,W) in [0,1] to (N,3,sH,sW)."""
    return load_descriptor(name_or_path, sha256).model


def _inspect_file(path: Path, source: str) -> tuple[ModelSpec, spandrel.ImageModelDescriptor]:
    descriptor = load_checked(path, source)
    # A known architecture's memory per pixel and precisions are its family's.
    family = catalogue.for_arch(descriptor.architecture.id)
    spec = ModelSpec(
        name=path.stem,
        scale=descriptor.scale,
        arch=descriptor.architecture.name,
        arch_id=descriptor.architecture.id,
        bytes_per_output_pixel=family.bytes_per_output_pixel if family else None,
        precisions=family.precisions if family else ModelSpec.precisions,
        licence="see the checkpoint's source",
        source=source,
        params=sum(p.numel() for p in descriptor.model.parameters()),
        path=path,
        synthesises_detail=None,
    )
    return spec, descriptor
