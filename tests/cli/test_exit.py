"""How a `rollout` process ends: right after its command (no interpreter teardown), with its
output flushed, its atexit handlers run and its exit code kept (sagemaker_rollouts.cli.main)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The console script's own path (`main()` with the process's argv), plus an atexit handler
# registered before anything else, as a user's sitecustomize or a library would.
CONSOLE = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('atexit ran', file=sys.stderr, flush=True))\n"
    "sys.argv = ['rollout', *sys.argv[1:]]\n"
    "from sagemaker_rollouts.cli.main import main\n"
    "sys.exit(main())\n"
)


@pytest.mark.parametrize(
    ("argv", "code", "stdout_is_json"),
    [
        (["plan", "--stack", "canary", "--json"], 0, True),
        (["plan", "--stack", "no-such-stack"], 2, False),
    ],
    ids=["plan", "usage error"],
)
def test_the_console_path_keeps_output_atexit_handlers_and_exit_code(
    argv: list[str], code: int, stdout_is_json: bool
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CONSOLE, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == code, done.stderr
    assert done.stderr.rstrip().endswith("atexit ran")
    if stdout_is_json:
        assert json.loads(done.stdout)["resources"]  # the whole document, not a truncated one
    else:
        assert "error:" in done.stderr


def test_called_with_argv_main_returns_its_code_and_the_process_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sagemaker_rollouts.cli.main import main

    assert main(["plan", "--stack", "no-such-stack"]) == 2
    assert "error:" in capsys.readouterr().err


def test_the_console_path_makes_full_collections_rare_and_main_as_a_function_does_not() -> None:
    """A `rollout` process runs one command: full collections are made rare from its start
    (infra/gc_policy.py `for_this_command`); `main(argv)` in another program leaves that
    program's collector as it was."""
    from sagemaker_rollouts.infra.gc_policy import FULL_EVERY

    report = "import atexit, gc, sys\natexit.register(lambda: print('GC', *gc.get_threshold(), file=sys.stderr))\n"
    done = subprocess.run(
        [sys.executable, "-c", report + CONSOLE, "plan", "--stack", "no-such-stack"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("GC ")]
    assert int(line.split()[3]) >= FULL_EVERY

    function = (
        "import gc, sys\n"
        "before = gc.get_threshold()\n"
        "from sagemaker_rollouts.cli.main import main\n"
        "code = main(['plan', '--stack', 'no-such-stack'])\n"
        "print(code, gc.get_threshold() == before)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", function], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.split() == ["2", "True"], done.stderr
