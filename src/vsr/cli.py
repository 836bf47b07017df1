"""The `vsr` command: the user's commands (upscale, batch, plan, models, demo, sample, evaluate,
ui, watch, run-s3); `vsr step NAME` hands over to the workflow step's own module
(vsr.steps.NAME)."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import traceback

from vsr.errors import VsrError, user_error
from vsr.names import VIDEO_TYPES
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
        print(f"vsr: error: {user_error(exc, _subject(args, name))}", file=sys.stderr)
        return 2
    except Exception as exc:
        traceback.print_exc()  # into the step's log, above the one line
        print(f"vsr: error: {user_error(exc, _subject(args, name))}", file=sys.stderr)
        return 2


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (0 or a negative number is refused, not defaulted)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line too: `vsr: error: --shard-frames: must be at least 1, got 0`."""

    def error(self, message: str):  # type: ignore[override]
        print(f"vsr: error: {message.removeprefix('argument ')}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vsr", description="4x AI video super-resolution")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("upscale", help="upscale one video (or image) with the workflow")
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--type", choices=VIDEO_TYPES, default="real")
    p.add_argument("--model", help="model name (see `vsr models`), .pth path or URL")
    p.add_argument("--shard-frames", type=positive_int)
    p.add_argument("--cores", type=positive_int, default=usable_cpus())
    p.add_argument("--profile", default="local", help="local | slurm | a profile folder")
    p.add_argument(
        "--config",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="more config: KEY=VALUE or section.key=VALUE (encode.crf=20,"
        " output.size=1920x1080, upscale.batch_size=4, audio=reencode)",
    )
    p.add_argument("--keep-work", action="store_true", help="keep intermediate shards")

    sub.add_parser("models", help="list the models, their sources and licences")

    p = sub.add_parser("demo", help="build the bundled sample clip and upscale it")
    p.add_argument("--cores", type=int, default=usable_cpus())

    p = sub.add_parser("sample", help="write a test clip made from real photos")
    p.add_argument("out")
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--size", default="320x180")
    p.add_argument("--rate", default="24")

    p = sub.add_parser("qc", help="check an output against its source (frames, sync, aspect...)")
    p.add_argument("source")
    p.add_argument("output")

    sub.add_parser("evaluate", help="measure quality against bicubic", add_help=False)
    sub.add_parser(
        "watch", help="consume S3 upload events and run the workflow locally", add_help=False
    )
    sub.add_parser(
        "run-s3", help="run the workflow for one S3 upload (head node job)", add_help=False
    )
    sub.add_parser(
        "batch", help="upscale a whole archive (manifest) in chunks of titles", add_help=False
    )
    sub.add_parser(
        "plan",
        help="probe an archive and decide everything before any GPU time (plan.csv/html)",
        add_help=False,
    )
    sub.add_parser("step", help="one workflow step (called by the Snakemake rules)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["watch"]:
        from vsr.cloud.watch import main as watch_main

        return watch_main(argv[1:])
    if argv[:1] == ["ui"]:
        from vsr.apps.ui import main as ui_main

        return ui_main(argv[1:])
    if argv[:1] == ["evaluate"]:
        from vsr.measure.evaluate import main as evaluate_main

        return evaluate_main(argv[1:])
    if argv[:1] == ["step"]:
        return step_main(argv[1:])
    if argv[:1] == ["batch"]:
        from vsr.workflow.batch import main as batch_main

        return batch_main(argv[1:])
    if argv[:1] == ["plan"]:
        from vsr.workflow.plan import main as plan_main

        return plan_main(argv[1:])
    if argv[:1] == ["run-s3"]:
        from vsr.cloud.watch import run_s3_main

        return run_s3_main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    try:
        if args.command == "qc":
            from vsr.steps.qc import check, failure_line

            report = check(args.source, args.output)
            print(json.dumps(report, indent=2, default=str))
            if not report["passed"]:
                raise failure_line(args.output, report)
        elif args.command == "models":
            from vsr.models.registry import format_models

            print(format_models())
        elif args.command == "upscale":
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
        elif args.command == "demo":
            from vsr.workflow.run import demo

            print(demo(cores=args.cores))
        elif args.command == "sample":
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
    except (VsrError, OSError, KeyboardInterrupt) as exc:
        # Any failure, one line: the file the user gave (or the one the system names) and what
        # happened. Steps keep the traceback of unexpected failures in their log, above it.
        print(f"vsr: error: {user_error(exc, _subject(args, args.command))}", file=sys.stderr)
        return 2
    except Exception as exc:
        if os.environ.get("VSR_DEBUG"):
            traceback.print_exc()
        print(f"vsr: error: {user_error(exc, _subject(args, args.command))}", file=sys.stderr)
        return 2
    return 0


def _subject(args: argparse.Namespace, command: str) -> str:
    """The path a failure of this command is about, when nothing more precise is known."""
    for name in ("source", "input", "shard", "upscaled", "out"):
        if getattr(args, name, None):
            return str(getattr(args, name))
    return command


if __name__ == "__main__":
    sys.exit(main())
