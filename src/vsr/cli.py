"""The `vsr` command: the user's commands, one table (`COMMANDS`) that both the parser and the
dispatch read; `vsr step NAME` hands over to the workflow step's own module (vsr.steps.NAME)."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vsr.errors import VsrError, print_error, user_error
from vsr.options import (
    add_config,
    add_cores,
    add_model_type,
    add_profile,
    positive_int,
)
from vsr.util import usable_cpus

# `vsr step NAME`: one module per workflow rule, vsr.steps.NAME, with add_arguments() and run().
STEPS = (
    "fetch",
    "probe",
    "split",
    "upscale",
    "encode",
    "fused",
    "assemble",
    "qc",
    "summary",
    "panel",
)


def step_main(argv: list[str]) -> int:
    """`vsr step NAME ARGS...`: one workflow step, as the Snakemake rules call it. Only the
    step's own module is imported (the upscale step's model stack is not needed to probe)."""
    parser = _Parser(prog="vsr step", description=step_main.__doc__)
    parser.add_argument("name", choices=STEPS)
    name = parser.parse_args(argv[:1]).name
    module = importlib.import_module(f"vsr.steps.{name}")
    step = _Parser(prog=f"vsr step {name}", description=module.run.__doc__)
    module.add_arguments(step)
    args = step.parse_args(argv[1:])
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    try:
        return module.run(args) or 0
    except (VsrError, OSError, KeyboardInterrupt) as exc:
        print_error(user_error(exc, _subject(args, name)))
        return 2
    except Exception as exc:
        traceback.print_exc()  # into the step's log, above the one line
        print_error(user_error(exc, _subject(args, name)))
        return 2


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line too: `vsr: error: --shard-frames: must be at least 1, got 0`."""

    def error(self, message: str):  # type: ignore[override]
        print_error(message.removeprefix("argument "))
        raise SystemExit(2)


def _upscale_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    add_model_type(p, manifest=False)
    p.add_argument("--shard-frames", type=positive_int)
    add_cores(p, usable_cpus())
    add_profile(p)
    add_config(p)
    p.add_argument("--keep-work", action="store_true", help="keep intermediate shards")


def _upscale(args: argparse.Namespace) -> None:
    from vsr.workflow.run import upscale_file

    out = upscale_file(
        args.input,
        args.output,
        video_type=args.type,
        model=args.model,
        shard_frames=args.shard_frames,
        cores=args.cores,
        profile=args.profile,
        extra_config=args.config,
        keep_work=args.keep_work,
    )
    print(out)


def _models(args: argparse.Namespace) -> None:
    from vsr.models.registry import format_models

    print(format_models())


def _demo_arguments(p: argparse.ArgumentParser) -> None:
    add_cores(p, usable_cpus())


def _run_arguments(p: argparse.ArgumentParser, cores: int, cores_help: str) -> None:
    """How `vsr batch` and `vsr plan --profile` send titles to Snakemake (`Runs`)."""
    p.add_argument(
        "--chunk", type=positive_int, default=20, help="titles per Snakemake run (1 on Slurm)"
    )
    p.add_argument("--parallel", type=positive_int, default=1, help="Snakemake runs at a time")
    add_profile(p)
    add_cores(p, cores, cores_help)
    add_config(p)
    add_model_type(p, manifest=True)
    p.epilog = (
        "An option not listed here is refused. Options for Snakemake itself go after `--`"
        " (`-- --latency-wait 60`)."
    )


def _runs(args: argparse.Namespace):
    from vsr.workflow.batch import Runs

    return Runs(
        args.chunk,
        args.parallel,
        args.profile,
        args.cores,
        (*args.config,),
        (*args.snakemake,),
        {"type": args.type, "model": args.model},
    )


def _batch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", type=Path)
    p.add_argument("-o", "--results", type=Path, default=Path("results"))
    _run_arguments(p, 1, "cores per Snakemake run")


def _batch(args: argparse.Namespace) -> int:
    from vsr.workflow.batch import batch_main

    return batch_main(args.manifest, args.results, _runs(args))


def _plan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="MANIFEST|FILE")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for plan.csv/html")
    _run_arguments(p, os.cpu_count() or 1, "probes at a time")


def _plan(args: argparse.Namespace) -> int:
    from vsr.workflow.plan import plan_main

    if args.snakemake and args.profile == "local":
        raise VsrError("vsr plan", "Snakemake options (after --) need --profile: locally the"
                       " probes run without Snakemake")  # fmt: skip
    return plan_main(args.inputs, args.output, _runs(args))


def _demo(args: argparse.Namespace) -> None:
    from vsr.workflow.run import demo

    print(demo(cores=args.cores))


def _sample_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out")
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--size", default="320x180")
    p.add_argument("--rate", default="24")


def _sample(args: argparse.Namespace) -> None:
    from vsr.media.sample import ClipSpec, make_clip

    width, height = (int(v) for v in args.size.lower().split("x"))
    spec = ClipSpec(
        width=width,
        height=height,
        frames=args.frames,
        rate=args.rate,
        subtitles=True,
        chapters=True,
    )
    print(make_clip(args.out, spec))


def _qc_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source")
    p.add_argument("output")


def _qc(args: argparse.Namespace) -> None:
    from vsr.steps.qc import check, failure_line

    report = check(args.source, args.output)
    print(json.dumps(report, indent=2, default=str))
    if not report["passed"]:
        raise failure_line(args.output, report)


@dataclass(frozen=True)
class Command:
    """One user command: its name and one-line help, and either its own `main(argv)`
    (`module:function`, imported only when that command runs) or this module's arguments and
    run function."""

    name: str
    help: str
    main: str = ""
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    run: Callable[[argparse.Namespace], int | None] | None = None
    # Options after `--` go to Snakemake as they are (`vsr batch M -o out -- --latency-wait 60`).
    snakemake_options: bool = False


# `vsr --help` and the dispatch below both read this table.
COMMANDS = (
    Command(
        "upscale",
        "upscale one video (or image) with the workflow",
        arguments=_upscale_arguments,
        run=_upscale,
    ),
    Command(
        "batch",
        "upscale a whole archive: one Snakemake run per chunk of titles",
        arguments=_batch_arguments,
        run=_batch,
        snakemake_options=True,
    ),
    Command(
        "plan",
        "probe an archive and decide everything before any GPU time (plan.csv/html)",
        arguments=_plan_arguments,
        run=_plan,
        snakemake_options=True,
    ),
    Command("models", "list the models, their sources and licences", run=_models),
    Command(
        "demo", "build the bundled sample clip and upscale it", arguments=_demo_arguments, run=_demo
    ),
    Command(
        "sample",
        "write a test clip made from real photos",
        arguments=_sample_arguments,
        run=_sample,
    ),
    Command(
        "qc",
        "check an output against its source (frames, sync, aspect...)",
        arguments=_qc_arguments,
        run=_qc,
    ),
    Command("evaluate", "measure quality against bicubic", main="vsr.measure.evaluate:main"),
    Command("ui", "the web UI: upload, upscale, compare, download", main="vsr.apps.ui:main"),
    Command(
        "watch",
        "consume S3 upload events and run the workflow locally",
        main="vsr.cloud.watch:main",
    ),
    Command(
        "run-s3",
        "run the workflow for one S3 upload (head node job)",
        main="vsr.cloud.run_s3:run_s3_main",
    ),
    Command("step", "one workflow step (called by the Snakemake rules)", main="vsr.cli:step_main"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vsr", description="4x AI video super-resolution")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        # A command with its own main() parses its own arguments (and its own --help).
        p = sub.add_parser(command.name, help=command.help, add_help=not command.main)
        if command.arguments:
            command.arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    by_name = {command.name: command for command in COMMANDS}
    if argv[:1] and argv[0] in by_name and by_name[argv[0]].main:
        module, function = by_name[argv[0]].main.split(":")
        return getattr(importlib.import_module(module), function)(argv[1:])
    snakemake: list[str] = []
    if argv[:1] and argv[0] in by_name and by_name[argv[0]].snakemake_options and "--" in argv:
        cut = argv.index("--")
        argv, snakemake = argv[:cut], argv[cut + 1 :]
    # Every option is one of the command's own: an unknown one is refused here, in one line,
    # before anything runs (never passed on to Snakemake).
    args = build_parser().parse_args(argv)
    args.snakemake = snakemake
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    try:
        status = by_name[args.command].run(args)
    except (VsrError, OSError, KeyboardInterrupt) as exc:
        # Any failure, one line: the file the user gave (or the one the system names) and what
        # happened. Steps keep the traceback of unexpected failures in their log, above it.
        print_error(user_error(exc, _subject(args, args.command)))
        return 2
    except Exception as exc:
        if os.environ.get("VSR_DEBUG"):
            traceback.print_exc()
        print_error(user_error(exc, _subject(args, args.command)))
        return 2
    return status or 0


def _subject(args: argparse.Namespace, command: str) -> str:
    """The path a failure of this command is about, when nothing more precise is known."""
    for name in ("source", "input", "manifest", "shard", "upscaled", "out"):
        if getattr(args, name, None):
            return str(getattr(args, name))
    return command


if __name__ == "__main__":
    sys.exit(main())
