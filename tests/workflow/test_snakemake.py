"""The one Snakemake command builder, read back by Snakemake's parser, and the one error line."""

from __future__ import annotations

import os
from pathlib import Path

from snakemake.cli import get_argument_parser

from vsr import WORKFLOW_ROOT
from vsr.errors import VsrError, parse_error_line, print_error
from vsr.workflow.snakemake import snakemake_command, snakemake_env, snakemake_program


def test_targets_stay_targets_after_config_values_and_options(tmp_path: Path):
    config = {"manifest": "m.tsv", "encode": "{preset: fast}"}
    command = snakemake_command(
        tmp_path, config, cores=2, extra=["--nolock", "--forcerun"], targets=["videos"]
    )
    assert command[:3] == snakemake_program()
    args = get_argument_parser().parse_args(command[3:])
    assert args.targets == ["videos"]
    assert args.config == ["manifest=m.tsv", "encode={preset: fast}"]
    assert args.forcerun == set() and args.nolock and args.cores == 2
    assert Path(args.directory) == tmp_path
    assert Path(args.snakefile) == WORKFLOW_ROOT / "Snakefile"
    assert [Path(p) for p in args.profile] == [WORKFLOW_ROOT / "profiles" / "local"]


def test_without_a_profile_or_cores_the_command_names_neither(tmp_path: Path):
    command = snakemake_command(tmp_path, {}, cores=None, profile=None)
    assert "--profile" not in command and "--cores" not in command and "--config" not in command


def test_only_the_slurm_profile_keeps_the_slurm_configuration():
    assert snakemake_env("local")["SLURM_CONF"] == os.devnull
    assert snakemake_env(None)["SLURM_CONF"] == os.devnull
    assert snakemake_env("slurm").get("SLURM_CONF") == os.environ.get("SLURM_CONF")


def test_the_error_line_reads_back_as_the_error_it_was(capsys):
    print_error(VsrError("/videos/b.mp4", "truncated: 3 of 9 frames"))
    line = capsys.readouterr().err.rstrip("\n")
    assert line == "vsr: error: /videos/b.mp4: truncated: 3 of 9 frames"
    error = parse_error_line(line)
    assert error is not None and (error.path, error.problem) == (
        "/videos/b.mp4",
        "truncated: 3 of 9 frames",
    )
    assert parse_error_line("vsr: done 1234") is None
