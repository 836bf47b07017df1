"""`vsr batch` while it runs: one status line that keeps updating (titles done, failed and
running of the total, frames/s over the archive, ETA), and a title's own line as soon as that
title finishes or fails, not when its chunk ends. Read from the files each title's steps write
(summary.json, the step logs' error lines, upscale progress), so it works for chunks running side
by side. On a terminal the status line is rewritten in place; elsewhere (a log file) it is
printed as a plain line every `plain_every_s` seconds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vsr.layout import video_paths
from vsr.workflow.progress import upscale_progress


class BatchProgress:
    def __init__(
        self,
        results: Path,
        records: dict[str, dict[str, Any]],
        pending: list[str],
        out,
        line: Callable[[dict[str, Any]], str],
        write_reports: Callable[[Path, dict[str, dict[str, Any]]], None],
        every_s: float = 1.0,
        plain_every_s: float = 30.0,
        settled: tuple[str, ...] = (),
    ):
        """`pending`: the titles this batch runs; `settled`: those of them already failed
        (the preflight's), counted but not run."""
        self.results, self.records, self.out = results, records, out
        self.pending = list(pending)
        self.line, self.write_reports = line, write_reports
        self.every_s, self.plain_every_s = every_s, plain_every_s
        self.started = time.time()
        self.finished: set[str] = set(settled)
        # title -> its step logs (and their times) when its Snakemake run began
        self.started_at: dict[str, dict[Path, float]] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.shown = ""
        self.last_plain = 0.0

    def __enter__(self) -> BatchProgress:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self._status(final=True)

    def chunk_started(self, videos: list[str]) -> None:
        with self.lock:
            for video in videos:
                self.started_at.setdefault(video, _logs(self.results, video))

    def chunk_done(self, videos: list[str], returncode: int, log: Path) -> None:
        """After a chunk's run: every title of it not reported yet gets its line now."""
        with self.lock:
            for video in videos:
                if video in self.finished:
                    continue
                self._finish(video, self._record(video, returncode, log))
            self.write_reports(self.results, self.records)

    def _record(self, video: str, returncode: int | None, log: Path | None) -> dict[str, Any]:
        """The title's archive record now: done, or failed with its own step's line and log
        (None while its run goes on and no step of it failed)."""
        from vsr.workflow.batch import title_failure, title_record

        record = title_record(self.results, video, str(log or ""))
        record.setdefault("model", self.records[video].get("model", ""))
        if record["status"] == "done":
            return record
        found = title_failure(self.results, video, self.started)
        if found:
            return {**record, "status": "failed", "stage": found.stage,
                    "reason": found.reason, "log": str(found.log)}  # fmt: skip
        if returncode is None or log is None:
            return {}
        # No step wrote its line (a full disk can swallow it, a killed job writes none): say
        # why anyway, from this title's own run.
        status = "failed" if returncode else "incomplete"
        return {**record, "status": status, "reason": _run_failure(self.results, video, log)}

    def _finish(self, video: str, record: dict[str, Any]) -> None:
        if record["status"] == "done" or record.get("unpublished"):
            record["crops"] = _before_after(self.results, record)
        self.records[video] = record
        self.finished.add(video)
        self._clear()
        print(self.line(record), file=self.out, flush=True)

    def _run(self) -> None:
        while not self.stop.wait(self.every_s):
            changed = False
            with self.lock:
                for video in self.pending:
                    if video in self.finished or video not in self.started_at:
                        continue
                    record = self._record(video, None, None)
                    if record:
                        self._finish(video, record)
                        changed = True
                if changed:
                    self.write_reports(self.results, self.records)
            self._status()

    def numbers(self) -> dict[str, Any]:
        """done, failed, running, total, frames/s and ETA (seconds) of the titles run now."""
        done = failed = running = 0
        frames_done, frames_known, titles_known = 0, 0, 0
        for video in self.pending:
            status = self.records[video]["status"] if video in self.finished else None
            paths = video_paths(self.results, video)
            if status == "done":
                done += 1
                frames_done += int(self.records[video].get("frames") or 0)
                frames_known += int(self.records[video].get("frames") or 0)
                titles_known += 1
            elif status is not None:
                failed += 1
            elif self._running(video):
                running += 1
                progress = upscale_progress(paths)
                if progress is not None:
                    frames_done += progress.frames_done
                    frames_known += progress.frames_total
                    titles_known += 1
        elapsed = max(1e-6, time.time() - self.started)
        fps = frames_done / elapsed
        left = len(self.pending) - done - failed
        eta = None
        if fps > 0 and titles_known:
            per_title = frames_known / titles_known
            unknown = max(0, left - (titles_known - done))
            eta = (frames_known - frames_done + unknown * per_title) / fps
        return {
            "done": done,
            "failed": failed,
            "running": running,
            "total": len(self.pending),
            "fps": fps,
            "eta_s": eta,
        }

    def _running(self, video: str) -> bool:
        """A title is running once a step of it has started in its run (a log of it written
        since then): the titles of a chunk waiting their turn are not."""
        before = self.started_at.get(video)
        return before is not None and _logs(self.results, video) != before

    def text(self) -> str:
        n = self.numbers()
        eta = "-" if n["eta_s"] is None else _duration(n["eta_s"])
        return (
            f"[batch] {n['done']} done, {n['failed']} failed, {n['running']} running of"
            f" {n['total']}; {n['fps']:.1f} frames/s; ETA {eta}"
        )

    def _clear(self) -> None:
        if self.tty and self.shown:
            print("\r\x1b[K", end="", file=self.out, flush=True)
            self.shown = ""

    def _status(self, final: bool = False) -> None:
        text = self.text()
        if self.tty:
            print(f"\r\x1b[K{text}", end="\n" if final else "", file=self.out, flush=True)
            self.shown = "" if final else text
        elif final or time.time() - self.last_plain >= self.plain_every_s:
            print(text, file=self.out, flush=True)
            self.last_plain = time.time()


def _logs(results: Path, video: str) -> dict[Path, float]:
    found = {}
    for log in video_paths(results, video).logs.glob("**/*.log"):
        try:
            found[log] = log.stat().st_mtime
        except OSError:
            continue
    return found


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _before_after(results: Path, record: dict[str, Any]) -> str:
    """The title's before/after crops for archive.html (a path relative to `results`)."""
    from vsr.media.sheets import before_after

    name = Path(".archive") / f"{record['id']}.png"
    try:
        made = before_after(
            record.get("source", ""),
            record.get("output") or record["unpublished"],
            results / name,
            int(record.get("rotation") or 0),
            str(record.get("crop") or ""),
        )
    except Exception:  # a picture for people: its absence must not fail the batch
        return ""
    return str(name) if made else ""


def _run_failure(results: Path, video: str, log: Path) -> str:
    from vsr.workflow.run import failure_reason

    return " ".join(str(failure_reason(video_paths(results, video), video, log)).split())
