"""The batch manifest: a TSV with columns id, source, type (anime|real) and an optional model.

Everything is checked before any job runs, and every problem names the manifest, the row and the
value, so a typo on row 900 of an archive manifest does not surface hours into the run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from vsr.errors import VsrError
from vsr.names import VIDEO_TYPES
from vsr.user_paths import check_input_file

REQUIRED = ("id", "source", "type")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def is_remote(source: str) -> bool:
    return "://" in source


def resolve_source(source: str, manifest: Path) -> str:
    """Absolute path of a local source (relative paths: from the working directory, else from the
    manifest's folder); remote URIs are returned unchanged."""
    if is_remote(source):
        return source
    path = Path(source).expanduser()
    if path.is_absolute():
        return str(path)
    for base in (Path.cwd(), manifest.resolve().parent):
        if (base / path).exists():
            return os.path.abspath(base / path)  # a symlink keeps the name it was given
    return os.path.abspath(Path.cwd() / path)


def check_model(model: str, scale: Any, where: str | None = None) -> None:
    """`model` resolves and, at a `scale` (the validated config's upscale.scale) other than
    auto, its family has that scale: one line naming `where` (else the model), before any work."""
    from vsr.models.registry import model_at_scale, resolve_model

    try:
        resolve_model(model)
    except VsrError as exc:
        raise VsrError(where or exc.path, exc.problem) from None
    if str(scale) != "auto":
        try:
            model_at_scale(model, int(scale))
        except VsrError as exc:
            named = f"model {model} {exc.problem}" if where else exc.problem
            raise VsrError(where or exc.path, f"{named}; set upscale.scale") from None


def load_manifest(
    path: str | Path,
    models: dict[str, str] | None = None,
    scale: Any = "auto",
    fill: dict[str, str | None] | None = None,
) -> pd.DataFrame:
    """Read and validate the manifest; returns one row per video, indexed by id, with a model:
    the row's own, else `fill["model"]` (the command line's --model), else `models[type]` (the
    config's), else the registry's default for the type. `fill` gives any column's value for
    the rows that leave it empty (--type, --model). A `scale` (the config's upscale.scale)
    other than auto must be one the model's family has."""
    from vsr.media.picture import ROW_KEYS, settings_from
    from vsr.models.registry import DEFAULT_MODEL

    default_models = {**DEFAULT_MODEL, **(models or {})}
    path = Path(path)
    if not path.is_file():
        raise VsrError(path, "manifest not found")
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, skip_blank_lines=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise VsrError(
            path, f"not a readable TSV manifest ({' '.join(str(exc).split())})"
        ) from None
    table.columns = [c.strip() for c in table.columns]
    for column, value in (fill or {}).items():
        if value:
            if column not in table.columns:
                table[column] = ""
            table[column] = table[column].fillna("").map(lambda v, d=value: v.strip() or d)
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise VsrError(path, f"missing column(s) {', '.join(missing)} (need id, source, type)")
    if table.empty:
        raise VsrError(path, "has no rows")
    if "model" not in table.columns:
        table["model"] = ""
    table = table.fillna("").map(str.strip)
    for column in set(ROW_KEYS).intersection(table.columns):  # case-insensitive values
        table[column] = table[column].str.lower()

    for row_number, row in enumerate(table.itertuples(index=False), start=2):
        where = f"{path}: row {row_number}"
        if not ID_PATTERN.match(row.id):
            raise VsrError(where, f"bad id {row.id!r} (letters, digits, '.', '_', '-'; max 128)")
        if row.type not in VIDEO_TYPES:
            expected = " or ".join(VIDEO_TYPES)
            raise VsrError(where, f"unknown type {row.type!r} (expected {expected})")
        model = row.model or default_models[row.type]
        check_model(model, scale, where)
        try:  # optional per-video picture columns: deinterlace, crop, crop_pad, aspect, size
            settings_from({}, row._asdict())
        except VsrError as exc:
            raise VsrError(where, exc.problem) from None
        if getattr(row, "qc_waive", ""):
            from vsr.steps.qc import waive_list

            try:
                waive_list(row.qc_waive)
            except VsrError as exc:
                raise VsrError(where, f"{exc.path}: {exc.problem}") from None
        if not row.source:
            raise VsrError(where, "empty source")
        if not is_remote(row.source):
            source = resolve_source(row.source, path)
            try:
                check_input_file(source)
            except VsrError as exc:
                problem = "source not found" if exc.problem == "file not found" else exc.problem
                raise VsrError(row.source, f"{problem} (manifest {path}, id {row.id})") from None
    duplicated = table["id"][table["id"].duplicated()].unique().tolist()
    if duplicated:
        raise VsrError(path, f"duplicate id(s): {', '.join(duplicated)}")
    # Result folders are named by id: ids differing only in case would share one folder on
    # case-insensitive file systems (macOS, SMB/EFS shares).
    folded: dict[str, str] = {}
    for video_id in table["id"]:
        other = folded.setdefault(video_id.casefold(), video_id)
        if other != video_id:
            raise VsrError(
                path,
                f"ids {other!r} and {video_id!r} differ only in case"
                " (they would share one folder on case-insensitive file systems)",
            )

    table["source"] = [resolve_source(s, path) for s in table["source"]]
    table["model"] = [
        m or default_models[t] for m, t in zip(table["model"], table["type"], strict=True)
    ]
    return table.set_index("id", drop=False)


def write_manifest(path: str | Path, rows: list[dict[str, str]]) -> Path:
    """Write a manifest: id, source, type, model, then any per-video columns the rows carry
    (deinterlace, crop, aspect...: the overrides travel with the title)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["id", "source", "type", "model"]
    columns += [k for row in rows for k in row if k not in columns]
    columns = list(dict.fromkeys(columns))
    filled = [{column: row.get(column, "") for column in columns} for row in rows]
    pd.DataFrame(filled, columns=columns).to_csv(path, sep="\t", index=False)
    return path
