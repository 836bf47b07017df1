"""One exception type for problems a user can fix, printed as one line."""


class VsrError(Exception):
    """A user-facing error: the message names the file and the problem, on one line."""

    def __init__(self, path: object, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
