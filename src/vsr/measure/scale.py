"""A long film end to end: peak disk, peak memory, frame count, A/V offset at the last minute.

A synthetic film (FFmpeg's testsrc2 pattern with audio) carries a one-frame white flash and a
50 ms 1 kHz beep at the same instant every minute (30 s, 90 s, ...). It runs through the workflow
(local profile) with the `bicubic` model and `keep_upscaled: false`, while a thread samples the
disk use of its results folder and the memory (RSS) of every process under Snakemake. Afterwards
the final's last flash and last beep give the A/V offset there: drift would show up as a
growing offset, and the frame count must equal the source's.

    python -m vsr.measure.scale --minutes 30 [--size 640x480] [--intermediate none]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import av
import numpy as np

from vsr.layout import video_paths
from vsr.measure.overhead import save
from vsr.workflow.snakemake import snakemake_command, snakemake_env

RATE = 24
FLASH_EVERY_S = 60
FLASH_AT_S = 30  # first flash and beep; then every minute
BEEP_HZ = 1000
AUDIO_RATE = 48000


def make_film(path: Path, minutes: float, width: int, height: int) -> Path:
    """H.264 + AAC film with a flash and a beep at 30 s + k minutes (exactly together)."""
    seconds = minutes * 60
    period, offset = FLASH_EVERY_S * RATE, FLASH_AT_S * RATE
    video = (
        f"testsrc2=size={width}x{height}:rate={RATE}:duration={seconds},"
        f"drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='eq(mod(n\\,{period})\\,{offset})'"
    )
    beep = f"gte(t\\,{FLASH_AT_S})*lt(mod(t-{FLASH_AT_S}\\,{FLASH_EVERY_S})\\,0.05)"
    audio = (
        f"aevalsrc='0.05*sin(2*PI*220*t)+{beep}*0.6*sin(2*PI*{BEEP_HZ}*t)'"
        f":s={AUDIO_RATE}:d={seconds}"
    )
    command = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", video, "-f", "lavfi"]
    command += ["-i", audio, "-c:v", "libx264", "-preset", "veryfast", "-crf", "20"]
    command += ["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-shortest", str(path)]
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(command, check=True)
    return path


def tree_rss_mb(root_pid: int) -> float:
    """Resident memory of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 2**20


def disk_mb(folder: Path) -> float:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue
    return total / 2**20


class Sampler(threading.Thread):
    """Peak disk use of a folder and peak RSS of a process tree, sampled every `every_s`."""

    def __init__(self, folder: Path, pid: int, every_s: float = 0.5):
        super().__init__(daemon=True)
        self.folder, self.pid, self.every_s = folder, pid, every_s
        self.peak_disk_mb = self.peak_rss_mb = 0.0
        self.rss_by_minute: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        while not self.stop.is_set():
            rss = tree_rss_mb(self.pid)
            self.peak_rss_mb = max(self.peak_rss_mb, rss)
            self.peak_disk_mb = max(self.peak_disk_mb, disk_mb(self.folder))
            minute = int((time.monotonic() - start) // 60)
            while len(self.rss_by_minute) <= minute:
                self.rss_by_minute.append(0.0)
            self.rss_by_minute[minute] = max(self.rss_by_minute[minute], rss)
            self.stop.wait(self.every_s)


def last_flash_and_beep(path: Path, window_s: float = 65) -> tuple[float | None, float | None]:
    """Times (s) of the last white frame and the last beep onset in the final `window_s`."""
    with av.open(str(path)) as container:
        duration = float(container.duration or 0) / 1e6
        start = max(0.0, duration - window_s)
        video = container.streams.video[0]
        container.seek(int(start / video.time_base), stream=video)
        flash = None
        for frame in container.decode(video):
            if frame.pts is None or frame.time < start:
                continue
            if frame.to_ndarray(format="gray").mean() > 235:
                flash = float(frame.pts * frame.time_base)
    with av.open(str(path)) as container:
        audio = container.streams.audio[0]
        container.seek(int(start / audio.time_base), stream=audio)
        chunks, first = [], None
        for frame in container.decode(audio):
            if first is None:
                first = float(frame.pts * frame.time_base)
            chunks.append(frame.to_ndarray().reshape(frame.layout.nb_channels, -1)[0])
        rate = audio.rate
    signal = np.concatenate(chunks).astype(np.float64) if chunks else np.zeros(0)
    window = int(rate * 0.005)
    probe = np.exp(-2j * np.pi * BEEP_HZ * np.arange(window) / rate)
    hop = window // 4
    energy = np.array(
        [abs(np.dot(signal[i : i + window], probe)) for i in range(0, len(signal) - window, hop)]
    )
    beep = None
    if energy.size and first is not None:
        loud = energy > energy.max() * 0.5
        onsets = [i for i in range(1, len(loud)) if loud[i] and not loud[i - 1]]
        beep = first + onsets[-1] * hop / rate if onsets else None
    return flash, beep


def run_film(
    film: Path, work: Path, *, intermediate: str, preset: str, shard_frames: int, cores: int
) -> dict[str, Any]:
    results = work / "results"
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "manifest.tsv"
    manifest.write_text(f"id\tsource\ttype\tmodel\nfilm\t{film}\treal\tbicubic\n")
    config = {"manifest": str(manifest), "results": str(results), "keep_upscaled": "False"}
    config |= {"intermediate": intermediate, "shard_frames": str(shard_frames)}
    config["encode"] = f"{{preset: {preset}}}"
    command = snakemake_command(work, config, cores=cores, targets=["videos"])
    env = snakemake_env("local")
    started = time.perf_counter()
    with (work / "snakemake.log").open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        sampler = Sampler(work, process.pid)
        sampler.start()
        returncode = process.wait()
        sampler.stop.set()
        sampler.join()
    if returncode != 0:
        raise RuntimeError(f"workflow failed: see {work / 'snakemake.log'}")
    summary = json.loads(video_paths(results, "film").summary.read_text())
    final = Path(summary["output"])
    with av.open(str(final)) as container:
        frames_out = container.streams.video[0].frames
    with av.open(str(film)) as container:
        frames_in = container.streams.video[0].frames
    flash, beep = last_flash_and_beep(final)
    src_flash, src_beep = last_flash_and_beep(film)
    return {
        "wall_s": time.perf_counter() - started,
        "frames_source": frames_in,
        "frames_output": frames_out,
        "peak_disk_mb": sampler.peak_disk_mb,
        "final_mb": final.stat().st_size / 2**20,
        "source_mb": film.stat().st_size / 2**20,
        "peak_rss_mb": sampler.peak_rss_mb,
        "peak_rss_mb_by_minute": sampler.rss_by_minute,
        "stage_peak_rss_mb": {k: v.get("peak_rss_mb") for k, v in summary["stages"].items()},
        "last_flash_s": flash,
        "last_beep_s": beep,
        "av_offset_last_minute_ms": None
        if flash is None or beep is None
        else 1000 * (flash - beep),
        "source_av_offset_ms": None
        if src_flash is None or src_beep is None
        else 1000 * (src_flash - src_beep),
        "shards": summary["shards"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--size", default="640x480")
    p.add_argument("--intermediate", default="none", choices=["none", "lossless"])
    p.add_argument("--preset", default="medium", help="x264 preset of the final encode")
    p.add_argument("--shard-frames", type=int, default=1440)
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    p.add_argument("--work", default="bench/scale-work")
    p.add_argument("--out", default="bench/scale.json")
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    work = Path(args.work).resolve()
    film = make_film(work / "film.mp4", args.minutes, width, height)
    result = run_film(
        film,
        work / "run",
        intermediate=args.intermediate,
        preset=args.preset,
        shard_frames=args.shard_frames,
        cores=args.cores,
    )
    result.update(
        minutes=args.minutes, size=args.size, intermediate=args.intermediate, preset=args.preset
    )
    return save(result, Path(args.out))


if __name__ == "__main__":
    raise SystemExit(main())
