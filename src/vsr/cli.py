"""The `vsr` command: user commands (upscale, models, demo, watch) and the workflow's steps."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from vsr.errors import VsrError
from vsr.util import usable_cpus

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
# jemalloc keeps large activation buffers mapped instead of page-faulting them in again for every
# frame, as glibc malloc does: 1.45-1.55x faster CPU inference (see ENVIRONMENT.md).
JEMALLOC_CONF = "oversize_threshold:0,dirty_decay_ms:-1,muzzy_decay_ms:-1"


def reexec_with_jemalloc() -> None:
    """Restart this process with jemalloc preloaded, once, when it is installed."""
    jemalloc = os.environ.get("VSR_JEMALLOC", JEMALLOC)
    if not Path(jemalloc).exists() or "jemalloc" in os.environ.get("LD_PRELOAD", ""):
        return
    env = dict(os.environ, LD_PRELOAD=jemalloc, MALLOC_CONF=JEMALLOC_CONF)
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


def _step_parser(sub: argparse._SubParsersAction) -> None:
    step = sub.add_parser("step", help="one workflow step (called by the Snakemake rules)")
    steps = step.add_subparsers(dest="step", required=True)

    p = steps.add_parser("probe")
    p.add_argument("source")
    p.add_argument("out")
    p.add_argument("--timing")

    p = steps.add_parser("split")
    p.add_argument("source")
    p.add_argument("probe")
    p.add_argument("out_dir")
    p.add_argument("--shard-frames", type=int, required=True)
    p.add_argument("--timing")

    p = steps.add_parser("upscale")
    p.add_argument("shard")
    p.add_argument("probe")
    p.add_argument("out")
    p.add_argument("--model", required=True)
    p.add_argument("--settings", default="{}", help="JSON: the config's `upscale` section")
    p.add_argument("--threads", type=int)
    p.add_argument("--progress")
    p.add_argument("--timing")

    p = steps.add_parser("encode")
    p.add_argument("upscaled")
    p.add_argument("index")
    p.add_argument("shard")
    p.add_argument("probe")
    p.add_argument("out")
    p.add_argument("--settings", default="{}", help="JSON: the config's `encode` section")
    p.add_argument("--threads", type=int, help="encoder threads (the job's CPU share)")
    p.add_argument("--timing")

    p = steps.add_parser("assemble")
    p.add_argument("source")
    p.add_argument("probe")
    p.add_argument("out")
    p.add_argument("--segments", nargs="+", required=True)
    p.add_argument("--timing")

    p = steps.add_parser("summary")
    for name in ("id", "type", "model", "probe", "index", "final", "out"):
        p.add_argument(name)
    p.add_argument("--timings", nargs="*", default=[])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vsr", description="4x AI video super-resolution")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("upscale", help="upscale one video (or image) with the workflow")
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--type", choices=["anime", "real"], default="real")
    p.add_argument("--model", help="model name (see `vsr models`), .pth path or URL")
    p.add_argument("--shard-frames", type=int)
    p.add_argument("--cores", type=int, default=usable_cpus())
    p.add_argument("--profile", default="local", help="local | slurm | a profile folder")
    p.add_argument(
        "--config",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="extra workflow config, as for snakemake --config",
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

    sub.add_parser("evaluate", help="measure quality against bicubic", add_help=False)
    sub.add_parser(
        "watch", help="consume S3 upload events and run the workflow locally", add_help=False
    )
    sub.add_parser(
        "run-s3", help="run the workflow for one S3 upload (head node job)", add_help=False
    )
    _step_parser(sub)
    return parser


def run_step(args: argparse.Namespace) -> None:
    if args.step == "probe":
        from vsr.media.probe import write_probe
        from vsr.util import StepTimer

        with StepTimer("probe", args.timing):
            write_probe(args.source, args.out)
    elif args.step == "split":
        from vsr.steps.split import split
        from vsr.util import StepTimer

        with StepTimer("split", args.timing) as timer:
            index = split(args.source, args.probe, args.out_dir, args.shard_frames)
            timer.extra.update(frames=index["frames"])
    elif args.step == "upscale":
        settings = json.loads(args.settings)
        if settings.get("allocator", "jemalloc") == "jemalloc":
            reexec_with_jemalloc()
        from vsr.steps.upscale import upscale_shard

        upscale_shard(
            args.shard,
            args.probe,
            args.out,
            model=args.model,
            settings=settings,
            threads=args.threads,
            progress_json=args.progress,
            timing_json=args.timing,
        )
    elif args.step == "encode":
        from vsr.steps.encode import encode_segment

        s = json.loads(args.settings)
        encode_segment(
            args.upscaled,
            args.index,
            args.shard,
            args.probe,
            args.out,
            codec=s.get("codec", "libx264"),
            crf=s.get("crf", 18),
            preset=s.get("preset", "medium"),
            options=s.get("options"),
            threads=args.threads,
            timing_json=args.timing,
        )
    elif args.step == "assemble":
        from vsr.steps.assemble import assemble

        assemble(args.source, args.probe, args.segments, args.out, timing_json=args.timing)
    elif args.step == "summary":
        from vsr.steps.summary import write_summary

        write_summary(
            args.id,
            args.type,
            args.model,
            args.probe,
            args.index,
            args.timings,
            args.final,
            args.out,
        )


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
    if argv[:1] == ["batch"]:
        from vsr.workflow.batch import main as batch_main

        return batch_main(argv[1:])
    if argv[:1] == ["run-s3"]:
        from vsr.cloud.watch import run_s3_main

        return run_s3_main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    try:
        if args.command == "step":
            run_step(args)
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
    except VsrError as exc:
        print(f"vsr: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
