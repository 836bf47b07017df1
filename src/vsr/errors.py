"""One exception type for problems a user can fix, printed as one line, and that line's format."""

import sys

# Every one-line error starts with this, on stderr; a workflow run finds its failed step's line
# in the step's log by it.
ERROR_PREFIX = "vsr: error: "


class VsrError(Exception):
    """A user-facing error: the message names the file and the problem, on one line."""

    def __init__(self, path: object, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def user_error(exc: BaseException, path: object) -> VsrError:
    """Any failure as one line: `path` (what the user gave) and what happened.

    Operating-system errors keep their own file name and say which error it was (a full disk
    reads `No space left on device (ENOSPC)`), so the line never blames the wrong file."""
    import errno
    import os

    if isinstance(exc, VsrError):
        return exc
    code = getattr(exc, "errno", None)  # OSError, and PyAV's FFmpegError alike
    if isinstance(code, int) and code in errno.errorcode:
        reason = getattr(exc, "strerror", None) or str(exc)
        reason = f"{' '.join(str(reason).split())} ({errno.errorcode[code]})"
        filename = os.fsdecode(getattr(exc, "filename", None) or "")
        if filename.endswith(")"):  # PyAV names the failing call there, not a file
            return VsrError(path, f"{reason} in {filename}")
        return VsrError(os.path.abspath(filename) if filename else path, reason)
    if isinstance(exc, KeyboardInterrupt):
        return VsrError(path, "interrupted")
    text = " ".join(str(exc).split()) or "no details"
    return VsrError(path, f"{type(exc).__name__}: {text}")


def print_error(message: object, prog: str = "vsr") -> None:
    """The one-line error on stderr: `vsr: error: MESSAGE` (`prog`: a tool of its own)."""
    prefix = ERROR_PREFIX if prog == "vsr" else f"{prog}: error: "
    print(f"{prefix}{message}", file=sys.stderr, flush=True)


def error_line_message(line: str) -> str | None:
    """What `print_error` wrote on this line (None: not an error line)."""
    return line.removeprefix(ERROR_PREFIX) if line.startswith(ERROR_PREFIX) else None


def parse_error_line(line: str) -> VsrError | None:
    """A `vsr: error: FILE: PROBLEM` line read back as the VsrError it was (None: another line)."""
    message = error_line_message(line)
    if message is None:
        return None
    path, _, problem = message.partition(": ")
    return VsrError(path, problem)
