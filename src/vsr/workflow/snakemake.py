"""The one place that builds a Snakemake command line and its environment."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from vsr import WORKFLOW_ROOT
from vsr.errors import VsrError, error_line_message, print_error


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


def snakemake_program() -> list[str]:
    """Snakemake as this interpreter's module: jobs it starts re-run the same interpreter."""
    return [sys.executable, "-m", "snakemake"]


def snakemake_command(
    workdir: Path,
    config: Mapping[str, str],
    *,
    cores: int | None,
    profile: str | None = "local",
    extra: list[str] | None = None,
    targets: list[str] | None = None,
    workflow: Path | None = None,
) -> list[str]:
    """`python -m snakemake` on the bundled Snakefile (or `workflow`), run in `workdir` (where
    `.snakemake/` and relative paths go), with a profile (None: none), `cores` (None: the
    profile's), more options (`extra`), `--config` values and the targets (after `--`, so
    neither the config values nor an option in `extra` can take them as its own)."""
    command = [*snakemake_program(), "--snakefile", str(workflow or snakefile())]
    command += ["--directory", str(workdir)]
    if profile is not None:
        command += ["--profile", str(profile_dir(profile))]
    if cores is not None:
        command += ["--cores", str(cores)]
    command += list(extra or [])
    if config:
        command += ["--config", *(f"{k}={v}" for k, v in config.items())]
    return command + (["--", *targets] if targets else [])


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


@contextlib.contextmanager
def exit_on_error() -> Iterator[None]:
    """For code run while Snakemake reads the workflow: a VsrError ends the run with its one
    line and exit status 1, without Snakemake's traceback frame lines around it."""
    try:
        yield
    except VsrError as exc:
        print_error(exc)
        raise SystemExit(1) from None


def step_error_lines(results: str | os.PathLike[str], since: float) -> list[str]:
    """The `vsr: error:` lines that steps wrote into their logs since `since` (epoch seconds)."""
    lines: list[str] = []
    for log in sorted(Path(results).glob("*/logs/**/*.log")):
        try:
            if log.stat().st_mtime < since:
                continue
            text = log.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            if error_line_message(line) is not None and line not in lines:
                lines.append(line)
    return lines
