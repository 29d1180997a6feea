"""A stand-in for Pulumi's Python language host: what reaches the terminal when a program fails.

Read from pulumi/pulumi `sdk/python/cmd/pulumi-language-python-exec` (the script the Go language
host `pulumi-language-python` starts for `pulumi preview`/`up`):

- it runs the program with `runpy.run_path(PROGRAM, run_name='__main__')` inside
  `pulumi.runtime.run_in_stack`, on a fresh event loop;
- `except pulumi.RunError as e: pulumi.log.error(str(e))`: the message only, exit code 1;
- `except Exception:` logs "Program failed with an unhandled exception:" and the traceback cut to
  the frames from the user's program on (`_get_user_stacktrace`), exit code 32 (the
  "user actionable message shown" code).

The engine prints each error diagnostic as `error: <message>` under the stack's diagnostics. Here
the program runs under the recording mocks of `sagemaker_rollouts.simulator.mockrun` (no engine, no
AWS), through exactly that path: `runpy.run_path` of the real `__main__.py` (or a user's program
file), then the same two `except` clauses.
"""

from __future__ import annotations

import gc
import runpy
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from sagemaker_rollouts.infra import awareness, aws_loader
from sagemaker_rollouts.simulator.mockrun import OfflineRun, run_function_offline

UNHANDLED_EXIT = 32  # PYTHON_PROCESS_EXITED_AFTER_SHOWING_USER_ACTIONABLE_MESSAGE_CODE
HEADLINE = "Program failed with an unhandled exception:"


@dataclass(frozen=True, slots=True)
class Terminal:
    """What `pulumi up` shows for the program's own diagnostics, and the host's exit code."""

    exit_code: int
    text: str  # every `error:` diagnostic, as the CLI prints them
    run: OfflineRun

    @property
    def traceback_shown(self) -> bool:
        return "Traceback (most recent call last)" in self.text or HEADLINE in self.text

    def error_lines(self) -> list[str]:
        """The error diagnostic's lines without the leading `error: `."""
        lines = self.text.splitlines()
        assert lines and lines[0].startswith("error: "), self.text
        return [lines[0].removeprefix("error: "), *lines[1:]]


def _user_stacktrace(exc: BaseException, program: Path) -> str:
    """The traceback from the first frame in `program` on (as the exec script cuts it)."""
    frames = traceback.extract_tb(exc.__traceback__)
    target = program.resolve().with_suffix("")
    for index, frame in enumerate(frames):
        if Path(frame.filename).resolve().with_suffix("") == target:
            return "".join(traceback.format_exception(exc, limit=-(len(frames) - index)))
    return "".join(traceback.format_exception(exc))


def run_program(
    program: Path,
    *,
    config: Mapping[str, Any],
    stack: str,
    project: str = "sagemaker-rollouts",
    outcomes: awareness.OutcomeReader | None = None,
    endpoints: awareness.EndpointReader | None = None,
) -> Terminal:
    """Run `program` (a Pulumi `__main__.py`) as the language host does, under mocks.

    `config` is a stack file's `config:` map. Returns the terminal's error text and exit code.
    """

    def run() -> None:
        runpy.run_path(str(program), run_name="__main__")

    # The project's `__main__.py` tunes its process's collector for good (infra/gc_policy.py)
    # and its import system (infra/aws_loader.py); the language host's process ends with the
    # program, this test process goes on: put them back.
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    loader_was_installed = aws_loader.is_installed()
    try:
        result = run_function_offline(
            run, config=config, outcomes=outcomes, project=project, stack=stack, endpoints=endpoints
        )
    finally:
        gc.set_threshold(*threshold)
        if frozen == 0:
            gc.unfreeze()
        if not loader_was_installed:
            aws_loader.uninstall()
    error = result.error
    if error is None:
        return Terminal(0, "", result)
    if isinstance(error, pulumi.RunError):
        return Terminal(1, f"error: {error}", result)
    return Terminal(
        UNHANDLED_EXIT, f"error: {HEADLINE}\n{_user_stacktrace(error, program)}", result
    )
