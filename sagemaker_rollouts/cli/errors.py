"""Exit codes and the one error type the CLI turns into "exit 2 with a clear message"."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # rehearsal expectation not met; live rollout rolled back or failed
EXIT_USAGE = 2  # missing stack file, invalid config, unknown endpoint, bad scenario
EXIT_IN_PROGRESS = 3  # `status`: the rollout is still running (at the timeout, with --wait)


class UsageError(Exception):
    """Something the operator must fix before the command can run; every line is one problem.

    Each line names what is wrong where: a file and line, a config key path, an endpoint.
    """

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines: tuple[str, ...] = lines
