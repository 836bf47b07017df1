"""The one place that builds a Snakemake command line and its environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from vsr import WORKFLOW_ROOT
from vsr.errors import VsrError


def profile_dir(profile: str) -> Path:
    """`local`/`slurm` name the bundled profiles; anything else is a profile folder, relative to
    the working directory or else to the workflow (`profiles/slurm`)."""
    bundled = WORKFLOW_ROOT / "profiles" / profile
    if bundled.is_dir():
        return bundled
    given = Path(profile).resolve()
    return given if given.is_dir() or Path(profile).is_absolute() else WORKFLOW_ROOT / profile


def snakefile() -> Path:
    """The workflow's Snakefile; a clear error where the package runs without its checkout."""
    path = WORKFLOW_ROOT / "Snakefile"
    if not path.is_file():
        raise VsrError(
            path, "workflow not found: run vsr from its checkout or set VSR_WORKFLOW_ROOT to one"
        )
    return path


def config_items(items: Iterable[str]) -> dict[str, str]:
    """`KEY=VALUE` strings (as given to `snakemake --config`) as a dict."""
    return dict(item.partition("=")[::2] for item in items)


def snakemake_command(
    workdir: Path,
    config: Mapping[str, str],
    *,
    cores: int,
    profile: str | None = "local",
    extra: list[str] | None = None,
) -> list[str]:
    """`python -m snakemake` on the bundled Snakefile, run in `workdir` (where `.snakemake/` and
    relative paths go), with a profile (None: none) and `--config` values."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile()),
        "--directory",
        str(workdir),
    ]
    if profile is not None:
        command += ["--profile", str(profile_dir(profile))]
    command += ["--cores", str(cores)]
    if config:
        command += ["--config", *(f"{k}={v}" for k, v in config.items())]
    return command + list(extra or [])


def snakemake_env(profile: str | None) -> dict[str, str]:
    """The environment to start Snakemake in for this profile.

    Snakemake imports every installed executor plugin at start-up, and the Slurm one runs
    `scontrol show config`, which waits ~10 s for a controller wherever the Slurm client is
    installed but no cluster runs. Runs with the local profile never use Slurm, so its tools
    get an empty configuration there and fail at once (None: no profile, the local executor)."""
    env = dict(os.environ)
    local = profile_dir("local")
    if profile is None or local in {profile_dir(profile), (WORKFLOW_ROOT / profile).resolve()}:
        env["SLURM_CONF"] = os.devnull
    return env
