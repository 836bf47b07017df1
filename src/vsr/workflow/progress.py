"""Progress of a running workflow: frames done, frames/s and ETA over all shards of a video."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from vsr.util import read_json


class ProgressPrinter:
    """Prints frames done, frames/s and ETA of the upscale jobs while the workflow runs."""

    def __init__(self, work: Path, every_s: float = 5.0):
        self.work, self.every_s = work, every_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProgressPrinter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        last = ""
        while not self.stop.wait(self.every_s):
            line = progress_line(self.work)
            if line and line != last:
                print(line, file=sys.stderr, flush=True)
                last = line


def progress_line(work: Path) -> str | None:
    """One line over all shards of one video: `upscaled 120/480 frames, 6.1 fps, ETA 59 s`."""
    index = work / "shards" / "index.json"
    if not index.exists():
        return None
    total = read_json(index)["frames"]
    done, fps = 0, 0.0
    for path in (work / "progress").glob("*.json"):
        try:
            record = read_json(path)
        except (OSError, ValueError):
            continue  # being replaced right now
        done += record["done"]
        if record["done"] < record["total"]:
            fps += record["fps"]
    eta = f"{(total - done) / fps:.0f} s" if fps > 0 and done < total else "-"
    return f"upscaled {done}/{total} frames, {fps:.2f} fps, ETA {eta}"
