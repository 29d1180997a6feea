"""Fixtures every test folder shares: one moto server per test module, and a boto3 session on it.

`moto_url` (tests/moto_fixtures.py) starts moto in server mode on 127.0.0.1 on a free port, once
per test module, with the process environment pointed at it and fake credentials; `moto_session`
is one boto3 session on it (service models load once per module). Tests never reach real AWS.
`deployed` is the repo's canary stack provisioned in a fresh moto server of its own, with the
operator's `USER` from the `operator` fixture (a module overrides either by defining its own).

The suite runs on every core: pyproject's `addopts` passes `-n auto --dist loadfile
--no-loadscope-reorder` to pytest-xdist (a dev extra). `loadfile` keeps each test module on one
worker, so a module's fixtures (its moto server, its stack runs) are built once, not once per
worker; the modules are handed out heaviest first (`pytest_collection_modifyitems` below). A virtualenv
installed before pytest-xdist joined the lock would stop at "unrecognized arguments: -n": there
the three options are accepted and ignored (`pytest_addoption` below) and the suite runs in one
process (`uv pip install -c requirements/dev.lock pytest-xdist` brings the workers back).

The cyclic collector: a test process holds a large long-lived heap (pulumi, pulumi_aws, botocore's
service models, pydantic's validators, moto's backends) that every full (generation 2) collection
walks while it frees almost nothing, as `infra/gc_policy.py` found for a program evaluation. On
four modules (test_operators, test_ab_faults, test_hook_faults, test_config_errors: bench/README.md,
"The test suite") CPython's default spent about a quarter of the CPU in the collector, most of it
in full collections. Each worker runs a full collection after `FULL_EVERY` young-generation
collections instead of 10; young collections run as before, so short-lived cycles are still freed
promptly. 300, measured on tests/cli + tests/lambdas: collector 11.9 s at 100, 7.3 s at 300
(5.2 s at 1000 on cli + infra); peak RSS of the cli process 650, 855, 1,036 MiB. Not `gc.freeze()` as gc_policy does: `gc.get_freeze_count()`, which every offline run
asks, walks the frozen objects (tens of ms per run with a test process's heap frozen).
Bytecode: before the workers start, the controller writes the caches every worker would otherwise
compile for itself, the test modules' assert-rewritten code included (`pytest_configure` below,
tests/precompile.py says why and how it is safe).
Tests that check the collector settings put them back themselves (test_evaluation_cost.py,
langhost.py).
"""

from __future__ import annotations

import gc
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.moto_fixtures import _session, make_world, moto_url
from tests.precompile import Compiled, precompile, workers_will_start

if TYPE_CHECKING:
    from sagemaker_rollouts.cli.stack import LoadedStack
    from sagemaker_rollouts.simulator.provision import AwsClients

__all__ = ["make_world", "moto_session", "moto_url"]


def pytest_addoption(parser: pytest.Parser) -> None:
    if importlib.util.find_spec("xdist") is not None:
        return
    group = parser.getgroup("xdist-missing", "pytest-xdist is not installed: run in one process")
    # `_addoption`: pytest reserves lowercase short options for plugins; xdist registers its own
    # `-n` the same way (xdist/plugin.py).
    group._addoption("-n", "--numprocesses", dest="numprocesses", help="ignored: no pytest-xdist")
    group.addoption("--dist", dest="dist", default="no", help="ignored: no pytest-xdist")
    group.addoption("--no-loadscope-reorder", action="store_true", help="ignored: no pytest-xdist")


_COMPILED = pytest.StashKey[Compiled]()


def pytest_configure(config: pytest.Config) -> None:
    """In xdist's controller, before the workers start: write the bytecode caches every worker
    would otherwise compile for itself (tests/precompile.py says what, why and how it is safe)."""
    if workers_will_start(config):
        workers = config.getoption("numprocesses", None)  # an int once xdist has read `auto`
        processes = workers if isinstance(workers, int) and workers > 1 else 1
        config.stash[_COMPILED] = precompile(config, processes=processes)


def pytest_report_header(config: pytest.Config) -> str | None:
    done = config.stash.get(_COMPILED, None)
    if done is None:
        return None
    if done.skipped:
        return f"bytecode: not precompiled ({done.skipped})"
    return (
        f"bytecode (tests/precompile.py): {done.ordinary} compiled, {done.rewritten} "
        f"assert-rewritten, {done.kept} up to date"
    )


MODULE_CPU = Path(__file__).with_name("module_cpu.json")
"""Measured CPU seconds per test module (`bench/bench_suite.py --weights` rewrites it)."""
UNMEASURED_PER_TEST = 0.1
"""A module missing from MODULE_CPU counts this many seconds per test (the suite's mean)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Heaviest modules first. `--dist loadfile` hands whole modules to whichever worker is free,
    in collection order (`--no-loadscope-reorder` in pyproject: xdist would order them by number
    of tests, which says little about their cost); a heavy module handed out last leaves the
    other worker idle while it runs. Tests keep their order within a module."""
    del config
    cost: dict[str, float] = json.loads(MODULE_CPU.read_text()) if MODULE_CPU.exists() else {}
    counts: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        counts[module] = counts.get(module, 0) + 1
    first_seen = {module: i for i, module in enumerate(counts)}

    def weight(module: str) -> float:
        return cost.get(module, UNMEASURED_PER_TEST * counts[module])

    items.sort(key=lambda item: (-weight(m := item.nodeid.split("::", 1)[0]), first_seen[m]))


FULL_EVERY = 300
"""Young-generation collections between two full collections in a test process (CPython: 10)."""


def pytest_collection_finish(session: pytest.Session) -> None:
    del session
    first, second, third = gc.get_threshold()
    gc.set_threshold(first, second, max(third, FULL_EVERY))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker's end-of-run full collection, before it tells the controller it has finished.

    pytest's unraisable-exception plugin collects at unconfigure (3 s over a worker's ~1 GB heap,
    the garbage of rare full collections); xdist sends "workerfinished" at the end of
    sessionfinish, and the controller then shuts the worker's gateway down, which interrupts a
    main thread still collecting (execnet `interrupt_main`: a KeyboardInterrupt printed from
    whatever gc callback was running). Collected here, the plugin's own collection finds the
    heap frozen and nothing to do; exceptions from finalizers run here still reach its hook."""
    if hasattr(session.config, "workerinput"):
        gc.collect()
        gc.freeze()


@pytest.fixture(scope="module")
def moto_session(moto_url: str) -> Any:
    """A boto3 session (region us-east-1) whose clients talk to this module's moto server."""
    del moto_url  # the server must be up (and the environment pointed at it) first
    return _session()


@pytest.fixture
def operator() -> str:
    """Who runs the operator commands (their `USER`): the name `pause` and friends record.
    A module that wants another overrides this fixture."""
    return "alice"


@pytest.fixture
def deployed(
    monkeypatch: pytest.MonkeyPatch, operator: str
) -> Iterator[tuple[LoadedStack, AwsClients]]:
    """The repo's canary stack (`Pulumi.canary.yaml`) as `pulumi up` would leave it, in a fresh
    moto server (tests/moto_deploy.provisioned), with `USER` set to `operator`."""
    from tests.moto_deploy import provisioned  # the CLI's modules: only for tests that ask

    monkeypatch.setenv("USER", operator)
    with provisioned(Path(__file__).resolve().parents[1], "canary") as stack_and_clients:
        yield stack_and_clients
