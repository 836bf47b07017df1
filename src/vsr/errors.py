"""One exception type for problems a user can fix, printed as one line."""


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
