"""The command-line options several commands take, each declared once so that it means the same
everywhere: `--cores`, `--profile`, `--config`, `--model`, `--type` (`vsr upscale`, `vsr batch`,
`vsr plan`, `vsr demo`, `vsr ui`, `vsr run-s3`)."""

from __future__ import annotations

import argparse

from vsr.names import VIDEO_TYPES


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (0 or a negative number is refused, not defaulted)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_cores(parser: argparse.ArgumentParser, default: int, help: str = "cores to use") -> None:
    parser.add_argument("--cores", type=positive_int, default=default, help=help)


def add_profile(parser: argparse.ArgumentParser, default: str | None = "local") -> None:
    parser.add_argument(
        "--profile", default=default, help="local | slurm | a Snakemake profile folder"
    )


def add_config(parser: argparse.ArgumentParser) -> None:
    """`--config KEY=VALUE...`, repeatable: every flag's items apply, in the order given (a later
    value of the same key wins)."""
    parser.add_argument(
        "--config",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="more config: KEY=VALUE or section.key=VALUE (encode.crf=20,"
        " output.size=1920x1080, upscale.scale=2, audio=reencode); repeatable",
    )


def add_model_type(parser: argparse.ArgumentParser, *, manifest: bool) -> None:
    """`--model` and `--type`: for one file, its model and type; with a manifest, the default for
    the rows that leave the column empty (a row's own value wins)."""
    rows = " (with a manifest: for rows that name none)" if manifest else ""
    parser.add_argument(
        "--type",
        choices=VIDEO_TYPES,
        default=None if manifest else "real",
        help=f"anime | real; picks the default model{rows}",
    )
    parser.add_argument("--model", help=f"model name (see `vsr models`), .pth path or URL{rows}")
