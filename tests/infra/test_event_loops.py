"""Every event loop an offline run opens is closed by its owner: no noise after a successful plan.

Left to the garbage collector, an unclosed loop prints "Exception ignored in:
<function BaseEventLoop.__del__ ...>" on stderr at exit, depending on collection order (issue 8).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.simulator.mockrun import run_offline

ROOT = Path(__file__).resolve().parents[2]


def test_an_offline_run_closes_every_loop_it_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[asyncio.AbstractEventLoop] = []
    original = asyncio.BaseEventLoop.__init__

    def recording_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(asyncio.BaseEventLoop, "__init__", recording_init)
    run = run_offline(ROOT / "Pulumi.canary.yaml")
    run.raise_error()
    assert len(opened) >= 2  # the run's own loop and the SDK's executor-thread loops
    assert [loop for loop in opened if not loop.is_closed()] == []


def test_plan_repeated_in_a_fresh_process_leaves_stderr_clean() -> None:
    """`rollout plan` twice in one process, collecting garbage after each: an unclosed loop
    would print its `__del__` traceback at once (by chance at exit, about one run in three)."""
    code = (
        "import gc, sys\n"
        "from sagemaker_rollouts.cli.main import main\n"
        "for _ in range(2):\n"
        "    assert main(['plan', '--stack', 'dev', '--json']) == 0\n"
        "    gc.collect()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
