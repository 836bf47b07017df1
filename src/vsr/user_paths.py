"""One rule for every path a user gives: checked here, named as given, never interpreted.

User paths (sources, outputs, results folders) are only ever passed as data: through the manifest
row and rule params, never inside a Snakemake file pattern, so `{`, `}`, `*`, `?`, `[` and friends
mean nothing. Errors name the path exactly as the user wrote it and say what it really is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from vsr.errors import VsrError

# Characters Snakemake would read as wildcards (or regex) inside a file pattern.
PATTERN_CHARS = set("{}")
VIDEO_SUFFIXES = {".mp4": "mp4", ".mkv": "mkv"}


KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISREG, "a regular file"),
)


def kind_of(mode: int) -> str:
    """What a file system entry really is, in words."""
    return next((words for test, words in KINDS if test(mode)), "not a regular file")


def absolute(path: str | os.PathLike[str]) -> Path:
    """Absolute path without resolving symlinks (errors keep naming the link the user gave)."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def check_input_file(path: str | os.PathLike[str], *, what: str = "video file") -> Path:
    """A readable, non-empty regular file (or a symlink to one); else one clear VsrError naming
    `path` as given and what it really is (a FIFO, a device, a directory, a dangling link...)."""
    given = os.fspath(path)
    p = Path(given).expanduser()
    try:
        link = os.lstat(p)
    except FileNotFoundError:
        raise VsrError(given, "file not found") from None
    except OSError as exc:
        raise VsrError(given, f"cannot be read ({exc.strerror})") from None
    target = ""
    if stat.S_ISLNK(link.st_mode):
        target = f"a symlink to {os.readlink(p)}, "
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise VsrError(given, f"is {target or 'a symlink, '}which does not exist") from None
    except OSError as exc:
        raise VsrError(given, f"cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise VsrError(given, f"is {target}{kind_of(st.st_mode)}, not a {what}")
    if st.st_size == 0:
        link_note = f" ({target.removesuffix(', ')})" if target else ""
        raise VsrError(given, f"file is empty (0 bytes){link_note}")
    if not os.access(p, os.R_OK):
        raise VsrError(given, "permission denied (not readable)")
    return p


def check_output_path(path: str | os.PathLike[str], container: str | None = None) -> Path:
    """Where a result may be written: checked before any work starts.

    Not an existing directory or special file, a folder that is (or can be) a directory, an
    extension that agrees with the `container` asked for (`auto`/None: any of .mp4/.mkv)."""
    given = os.fspath(path)
    out = absolute(given)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise VsrError(given, "output must end in .mp4 or .mkv")
    if container not in (None, "", "auto") and VIDEO_SUFFIXES[out.suffix.lower()] != container:
        raise VsrError(
            given,
            f"output extension {out.suffix} does not match container={container}"
            f" (use .{container}, or drop container=)",
        )
    if os.path.lexists(out):
        st = os.stat(out) if out.exists() else os.lstat(out)
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISLNK(st.st_mode):
            raise VsrError(given, f"output exists and is {kind_of(st.st_mode)}")
    parent = out.parent
    while not parent.exists():
        if os.path.lexists(parent):
            raise VsrError(given, f"output folder {parent} is a dangling symlink")
        parent = parent.parent
    if not parent.is_dir():
        raise VsrError(given, f"output folder {parent} is {kind_of(os.stat(parent).st_mode)}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise VsrError(given, f"output folder {parent} is not writable")
    return out


def check_pattern_safe(path: str | os.PathLike[str], what: str) -> str:
    """A path Snakemake must use inside file patterns (only the results folder, in batch mode):
    refused, not interpreted, when it holds wildcard braces."""
    text = os.fspath(path)
    if PATTERN_CHARS & set(text):
        raise VsrError(
            text, f"{what} must not contain '{{' or '}}' (Snakemake reads them as wildcards)"
        )
    return text


def safe_name(name: str) -> str:
    """A file name this workflow may put in a pattern: letters, digits, '.', '_', '-' only (any
    other character becomes '_', and a short hash keeps different names apart)."""
    import hashlib
    import re

    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "_"
    if cleaned == name:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    stem, dot, suffix = cleaned.rpartition(".")
    return f"{stem}-{digest}.{suffix}" if dot and stem else f"{cleaned}-{digest}"
