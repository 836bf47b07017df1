"""Hostile and unlucky inputs, made the way a user meets them.

Every failure must end with exactly one `vsr: error: PATH: PROBLEM` line, a non-zero exit, no
`final.*` anywhere under the output folder, and the source byte-for-byte unchanged. The corpus:
names (braces, glob characters, quotes, shell syntax), special files, degenerate videos,
truncations in every container family, concurrent and killed runs, a full disk, bad config.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from helpers.workflow import VSR, run, snakemake_batch, write_manifest

from vsr.errors import VsrError
from vsr.media.probe import probe
from vsr.workflow.lock import LOCK_NAME, WorkLock

MODEL = ["--type", "anime", "--model", "realesr-animevideov3"]
FAST_TIMEOUT = 120


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


def make_video(path: Path, size="64x48", seconds=1.0, *codec: str) -> Path:
    """A small test-pattern clip with a tone, encoded with `codec` options (default x264/AAC)."""
    codec = codec or ("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac")
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=24",
        "-f", "lavfi", "-i", "sine=f=440:r=48000",
        "-t", str(seconds), *codec, "-shortest", str(path),
    )  # fmt: skip
    return path


def make_raw_video(path: Path, width: int, height: int, frames=6) -> Path:
    """A tiny video FFmpeg's test sources refuse to make (1x1, 97x1): raw 4:4:4 frames in AVI."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("rawvideo", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv444p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(
                np.full((height, width, 3), i * 40, dtype=np.uint8), format="rgb24"
            ).reformat(format="yuv444p")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def error_lines(text: str) -> list[str]:
    """Distinct `vsr: error:` lines (Snakemake may repeat a failed step's log)."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("vsr: error: ") and line not in lines:
            lines.append(line)
    return lines


def assert_one_line_failure(result, path_text: str, words: str, folder: Path, *sources: Path):
    """The contract for every failure, plus the source hashes taken before the run."""
    assert result.returncode != 0, result.stderr[-3000:]
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith(f"vsr: error: {path_text}: "), lines
    assert words in lines[0], lines
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert not list(folder.glob("**/final.*")), list(folder.glob("**/final.*"))
    for source, digest in sources:
        assert sha256(source) == digest, f"{source} changed"


def upscale(source: str | Path, output: str | Path, *extra: str, cwd: Path, timeout=FAST_TIMEOUT):
    return run([*VSR, "upscale", str(source), "-o", str(output), *MODEL, *extra], cwd, timeout)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile-media")
    return {
        "clip": make_video(folder / "clip.mp4", "48x32", 0.5),
        "long": make_video(folder / "long.mp4", "64x48", 4.0),
    }


# --- names: a user path is data, never a pattern or a command ---------------------------------


def test_hostile_source_and_output_names_are_used_as_written(tmp_path, media):
    name = "br{video}ace [1] *?$(touch PWNED) it's;.mp4"
    source = tmp_path / name
    shutil.copy(media["clip"], source)
    shutil.copy(media["clip"], tmp_path / "brn10ace [1] x.mp4")  # a decoy a pattern would match
    digest = sha256(source)
    out = tmp_path / "o{x}[a]*" / "out {video}*?.mp4"
    result = upscale(name, out, "--shard-frames", "6", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(out.with_name("out {video}*?.summary.json").read_text())
    assert summary["source"] == str(source) and summary["frames"] == 12
    assert out.is_file() and not (tmp_path / "PWNED").exists()
    assert not list(out.parent.glob(".vsr-work-*")) and sha256(source) == digest


def test_batch_source_with_braces_is_not_a_wildcard(tmp_path, media):
    source = tmp_path / "br{video}ace.mp4"
    shutil.copy(media["clip"], source)
    make_video(tmp_path / "brn10ace.mp4", "32x32", 0.25)  # the decoy: a different video
    manifest = write_manifest(tmp_path / "m.tsv", [("b", str(source), "anime")])
    result, _ = snakemake_batch(manifest, tmp_path / "results", "shard_frames=6", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "results" / "b" / "summary.json").read_text())
    assert summary["source"] == str(source) and summary["probe"]["video"]["width"] == 48


def test_batch_results_folder_with_braces_is_refused(tmp_path, media):
    manifest = write_manifest(tmp_path / "m.tsv", [("b", str(media["clip"]), "anime")])
    results = tmp_path / "res{x}"
    result, _ = snakemake_batch(manifest, results, timeout=FAST_TIMEOUT)
    assert_one_line_failure(result, str(results), "must not contain '{'", tmp_path)
    assert not results.exists()


# --- special files: name the path given and what it really is ---------------------------------


def special_files(folder: Path, media) -> dict[str, tuple[Path, str]]:
    fifo = folder / "pipe.mp4"
    os.mkfifo(fifo)
    zero = folder / "zero.mp4"
    zero.symlink_to("/dev/zero")
    dangling = folder / "gone.mp4"
    dangling.symlink_to(folder / "nowhere.mp4")
    directory = folder / "folder.mp4"
    directory.mkdir()
    empty = folder / "empty.mp4"
    empty.write_bytes(b"")
    sock_path = folder / "sock.mp4"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    sock.close()
    return {
        "fifo": (fifo, "is a named pipe (FIFO)"),
        "symlink-to-dev-zero": (zero, "is a symlink to /dev/zero, a character device"),
        "device": (Path("/dev/null"), "is a character device"),
        "dangling-symlink": (dangling, "which does not exist"),
        "directory": (directory, "is a directory"),
        "empty": (empty, "file is empty (0 bytes)"),
        "socket": (sock_path, "is a socket"),
        "missing": (folder / "missing.mp4", "file not found"),
    }


SPECIAL = [
    "fifo",
    "symlink-to-dev-zero",
    "device",
    "dangling-symlink",
    "directory",
    "empty",
    "socket",
    "missing",
]


@pytest.mark.parametrize("kind", SPECIAL)
def test_special_source_files(tmp_path, media, kind):
    source, words = special_files(tmp_path, media)[kind]
    result = upscale(source, tmp_path / "out" / "o.mp4", cwd=tmp_path)
    assert_one_line_failure(result, str(source), words, tmp_path)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["fifo", "symlink-to-dev-zero", "directory", "device"])
def test_special_files_in_a_manifest(tmp_path, media, kind):
    source, words = special_files(tmp_path, media)[kind]
    manifest = write_manifest(tmp_path / "m.tsv", [("v", str(source), "anime")])
    result, _ = snakemake_batch(manifest, tmp_path / "results", timeout=FAST_TIMEOUT)
    assert_one_line_failure(result, str(source), words, tmp_path)
    assert 'File "' not in result.stderr  # no Snakemake frame lines around it


# --- degenerate videos -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (97, 1), (8, 8)])
def test_tiny_frames_are_refused_with_the_minimum(tmp_path, size):
    source = make_raw_video(tmp_path / f"tiny{size[0]}x{size[1]}.avi", *size)
    digest = sha256(source)
    result = upscale(source, tmp_path / "o.mp4", cwd=tmp_path)
    words = f"frame size {size[0]}x{size[1]} is too small (minimum 16x16)"
    assert_one_line_failure(result, str(source), words, tmp_path, (source, digest))


def test_smallest_accepted_frame_is_upscaled(tmp_path):
    source = make_video(tmp_path / "min.mp4", "16x16", 0.25)
    result = upscale(source, tmp_path / "o.mp4", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    info = probe(tmp_path / "o.mp4")["video"]
    assert (info["width"], info["height"], info["frames"]) == (64, 64, 6)


# --- truncations, one per container family and cut ---------------------------------------------

CONTAINERS = {
    "mkv": ("-c:v", "libx264", "-c:a", "aac"),
    "webm": ("-c:v", "libvpx-vp9", "-b:v", "200k", "-c:a", "libopus"),
    "mov": ("-c:v", "libx264", "-c:a", "aac", "-movflags", "+faststart"),
    "mp4": ("-c:v", "libx264", "-c:a", "aac"),
    "avi": ("-c:v", "mpeg4", "-c:a", "mp3"),
    "mpg": ("-c:v", "mpeg2video", "-c:a", "mp2"),
    "ts": ("-c:v", "libx264", "-c:a", "aac"),
    "mxf": ("-c:v", "mpeg2video", "-c:a", "pcm_s16le"),
}
# What the error names for each family: the declared figure against the delivered one.
TRUNCATED_WORDS = {
    "mkv": "the container declares",
    "webm": "the container declares",
    "mov": "truncated: the container declares",
    "mp4": "not a readable video",  # moov at the end: the index itself is cut off
    "avi": "truncated: the index lists",
    "mpg": "truncated: the last",
    "ts": "whole 188-byte packets",
    "mxf": "the container declares",
}
CUTS = (0.1, 0.37, 0.9)
# Cut so early that the header itself is gone: the file does not open at all.
UNREADABLE = {("avi", 0.1)}


@pytest.fixture(scope="module")
def containers(media, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("containers")
    made = {}
    for ext, codec in CONTAINERS.items():
        made[ext] = folder / f"full.{ext}"
        ffmpeg("-i", str(media["long"]), "-pix_fmt", "yuv420p", *codec, str(made[ext]))
    return made


@pytest.mark.parametrize("ext", sorted(CONTAINERS))
def test_complete_files_of_every_family_pass_the_integrity_check(containers, ext):
    info = probe(containers[ext])
    assert abs(info["video"]["frames"] - 96) <= 1


@pytest.mark.parametrize("cut", CUTS)
@pytest.mark.parametrize("ext", sorted(CONTAINERS))
def test_truncated_files_are_refused(tmp_path, containers, ext, cut):
    data = containers[ext].read_bytes()
    source = tmp_path / f"cut.{ext}"
    source.write_bytes(data[: int(len(data) * cut)])
    digest = sha256(source)
    result = upscale(source, tmp_path / "out.mkv", cwd=tmp_path)
    words = "not a readable video" if (ext, cut) in UNREADABLE else TRUNCATED_WORDS[ext]
    assert_one_line_failure(result, str(source), words, tmp_path, (source, digest))


@pytest.mark.parametrize("ext", ["mpg", "ts"])
def test_truncation_on_a_packet_boundary(tmp_path, containers, ext):
    """MPEG-PS/TS declare no length: a cut exactly between packets leaves a valid shorter
    stream, told apart only when a packet or picture is left incomplete."""
    data = containers[ext].read_bytes()
    packet = 2048 if ext == "mpg" else 188
    source = tmp_path / f"aligned.{ext}"
    source.write_bytes(data[: (len(data) // 2 // packet) * packet])
    try:
        probe(source)
    except VsrError as exc:
        assert "truncated" in exc.problem
    else:
        pytest.xfail(f"{ext}: a cut on a {packet}-byte packet boundary declares nothing to check")


# --- output paths and config: checked before any work ------------------------------------------


def bad_requests(tmp_path: Path, clip: Path) -> dict[str, tuple[list[str], str, str]]:
    """name -> (vsr upscale arguments, path the error names, words)."""
    folder = tmp_path / "existing.mp4"
    folder.mkdir()
    fifo_dir = tmp_path / "fifo"
    os.mkfifo(fifo_dir)
    out = str(tmp_path / "o.mp4")
    return {
        "output-is-a-folder": ([str(folder)], str(folder), "output exists and is a directory"),
        "container-mismatch": (
            [out, "--config", "container=mkv"],
            out,
            "does not match container=mkv",
        ),
        "output-under-a-fifo": (
            [str(fifo_dir / "o.mp4")],
            str(fifo_dir / "o.mp4"),
            "is a named pipe (FIFO)",
        ),
        "output-extension": ([str(tmp_path / "o.avi")], str(tmp_path / "o.avi"), "must end in"),
        "output-is-the-input": ([str(clip)], str(clip), "output would overwrite the input"),
        "bogus-key": ([out, "--config", "bogus_key=1"], "config bogus_key", "unknown key"),
        "nested-bogus-key": (
            [out, "--config", "upscale={devise: cpu}"],
            "config upscale.devise",
            "unknown key",
        ),
        "shard-frames-0": ([out, "--config", "shard_frames=0"], "config shard_frames", "minimum"),
        "shard-frames-abc": (
            [out, "--config", "shard_frames=abc"],
            "config shard_frames",
            "'abc' is not of type 'integer'",
        ),
        "shard-frames-negative": (
            [out, "--config", "shard_frames=-5"],
            "config shard_frames",
            "-5 is less than the minimum",
        ),
        "bad-enum": ([out, "--config", "container=avi"], "config container", "'avi' is not one"),
        "option-shard-frames-0": ([out, "--shard-frames", "0"], "--shard-frames", "at least 1"),
        "config-without-value": (
            [out, "--config", "shard_frames"],
            "--config shard_frames",
            "KEY=VALUE",
        ),
        "config-results": ([out, "--config", "results=/tmp/x"], "--config results", "set by"),
        "unknown-model": ([out, "--model", "esrgan-9000"], "esrgan-9000", "'esrgan-9000'"),
    }


BAD_REQUESTS = [
    "output-is-a-folder",
    "container-mismatch",
    "output-under-a-fifo",
    "output-extension",
    "output-is-the-input",
    "bogus-key",
    "nested-bogus-key",
    "shard-frames-0",
    "shard-frames-abc",
    "shard-frames-negative",
    "bad-enum",
    "option-shard-frames-0",
    "config-without-value",
    "config-results",
    "unknown-model",
]


@pytest.mark.parametrize("name", BAD_REQUESTS)
def test_bad_requests_fail_before_any_work(tmp_path, media, name):
    source = tmp_path / "clip.mp4"
    shutil.copy(media["clip"], source)
    digest = sha256(source)
    args, path_text, words = bad_requests(tmp_path, source)[name]
    command = [*VSR, "upscale", str(source), "-o", *args[:1], "--type", "anime", *args[1:]]
    started = time.monotonic()
    result = run(command, tmp_path, FAST_TIMEOUT)
    assert_one_line_failure(result, path_text, words, tmp_path, (source, digest))
    assert not list(tmp_path.glob(".vsr-work-*")), "work started before the checks"
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    "config, words",
    [
        ("bogus_key=1", "unknown key"),
        ("shard_frames=0", "minimum of 1"),
        ("shard_frames=abc", "not of type 'integer'"),
    ],
)
def test_batch_config_errors_are_one_line(tmp_path, media, config, words):
    manifest = write_manifest(tmp_path / "m.tsv", [("v", str(media["clip"]), "anime")])
    result, _ = snakemake_batch(manifest, tmp_path / "results", config, timeout=FAST_TIMEOUT)
    key = config.partition("=")[0]
    assert_one_line_failure(result, f"config {key}", words, tmp_path)
    assert 'File "' not in result.stderr and not (tmp_path / "results").exists()


# --- manifests ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ids, words",
    [(("Clip", "clip"), "differ only in case"), (("a-B.1", "A-b.1"), "differ only in case")],
)
def test_ids_that_collide_without_case_are_refused(tmp_path, media, ids, words):
    rows = [(video_id, str(media["clip"]), "anime") for video_id in ids]
    manifest = write_manifest(tmp_path / "m.tsv", rows)
    result, _ = snakemake_batch(manifest, tmp_path / "results", timeout=FAST_TIMEOUT)
    assert_one_line_failure(result, str(manifest), words, tmp_path)
    assert 'File "' not in result.stderr and not (tmp_path / "results").exists()


def test_batch_bad_video_prints_its_line_on_the_console(tmp_path, media):
    source = tmp_path / "notes.mp4"
    source.write_text("not a video\n" * 40)
    digest = sha256(source)
    manifest = write_manifest(
        tmp_path / "m.tsv", [("notes", str(source), "anime"), ("ok", str(media["clip"]), "anime")]
    )
    result, _ = snakemake_batch(manifest, tmp_path / "results", "shard_frames=6", timeout=600)
    assert_one_line_failure(
        result, str(source), "not a readable video", tmp_path / "results" / "notes",
        (source, digest),
    )  # fmt: skip


# --- concurrent and killed runs ----------------------------------------------------------------


def wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_second_run_on_the_same_output_refuses_and_a_killed_run_never_blocks(tmp_path, media):
    source = media["long"]
    digest = sha256(source)
    out = tmp_path / "out.mp4"
    lock = tmp_path / ".vsr-work-out.mp4" / LOCK_NAME
    command = [*VSR, "upscale", str(source), "-o", str(out), *MODEL, "--shard-frames", "24"]
    first = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: lock.exists() and "child" in lock.read_text())
        second = run(command, tmp_path, FAST_TIMEOUT)
        assert_one_line_failure(
            second, str(out), f"another run (PID {first.pid} on {socket.gethostname()}",
            tmp_path, (source, digest),
        )  # fmt: skip
        # Killed hard mid-run: the lock stays behind, naming a dead process.
        wait_for(lambda: (tmp_path / ".vsr-work-out.mp4/results/video/work/shards").exists())
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert lock.exists()
    rerun = run(command, tmp_path, 600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert probe(out)["video"]["frames"] == 96 and sha256(source) == digest
    assert not (tmp_path / ".vsr-work-out.mp4").exists()


def test_stale_and_foreign_locks(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (folder / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    with WorkLock(folder, "out.mp4"):  # a dead owner's lock is taken over
        assert json.loads((folder / LOCK_NAME).read_text())["pid"] == os.getpid()
        with pytest.raises(VsrError, match=f"another run \\(PID {os.getpid()}"):
            WorkLock(folder, "out.mp4").acquire()
    assert not (folder / LOCK_NAME).exists()
    (folder / LOCK_NAME).write_text("{half-writ")  # killed while writing it: stale
    with WorkLock(folder, "out.mp4"):
        pass
    (folder / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
    with pytest.raises(VsrError, match="PID 1 on elsewhere"):
        WorkLock(folder, "out.mp4").acquire()


# --- a full disk -------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_names_enospc_and_the_path(tmp_path, media, small_disk):
    source = media["long"]
    digest = sha256(source)
    out = small_disk / "out.mp4"
    result = upscale(source, out, "--shard-frames", "24", cwd=tmp_path, timeout=600)
    assert result.returncode != 0
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "No space left on device (ENOSPC)" in lines[0], result.stderr[-3000:]
    assert lines[0].startswith(f"vsr: error: {small_disk}/"), lines
    assert not list(small_disk.glob("**/final.*")) and sha256(source) == digest


def test_batch_refuses_a_video_another_run_holds(tmp_path, media):
    manifest = write_manifest(tmp_path / "m.tsv", [("v", str(media["clip"]), "anime")])
    results = tmp_path / "results"
    (results / "v").mkdir(parents=True)
    (results / "v" / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "node7", "since": "now"}))
    result, _ = snakemake_batch(manifest, results, timeout=FAST_TIMEOUT)
    assert_one_line_failure(result, str(results / "v"), "another run (PID 1 on node7", tmp_path)
    assert not list((results / "v").glob("final.*"))
