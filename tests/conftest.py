"""Fixtures every test folder shares: one moto server per test module, and a boto3 session on it.

`moto_url` (tests/moto_fixtures.py) starts moto in server mode on 127.0.0.1 on a free port, once
per test module, with the process environment pointed at it and fake credentials; `moto_session`
is one boto3 session on it (service models load once per module). Tests never reach real AWS.

The suite runs on every core: pyproject's `addopts` passes `-n auto --dist loadfile` to
pytest-xdist (a dev extra). `loadfile` keeps each test module on one worker, so a module's
fixtures (its moto server, its stack runs) are built once, not once per worker. A virtualenv
installed before pytest-xdist joined the lock would stop at "unrecognized arguments: -n": there
the two options are accepted and ignored (`pytest_addoption` below) and the suite runs in one
process (`uv pip install -c requirements/dev.lock pytest-xdist` brings the workers back).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from tests.moto_fixtures import _session, make_world, moto_url

__all__ = ["make_world", "moto_session", "moto_url"]


def pytest_addoption(parser: pytest.Parser) -> None:
    if importlib.util.find_spec("xdist") is not None:
        return
    group = parser.getgroup("xdist-missing", "pytest-xdist is not installed: run in one process")
    # `_addoption`: pytest reserves lowercase short options for plugins; xdist registers its own
    # `-n` the same way (xdist/plugin.py).
    group._addoption("-n", "--numprocesses", dest="numprocesses", help="ignored: no pytest-xdist")
    group.addoption("--dist", dest="dist", default="no", help="ignored: no pytest-xdist")


@pytest.fixture(scope="module")
def moto_session(moto_url: str) -> Any:
    """A boto3 session (region us-east-1) whose clients talk to this module's moto server."""
    del moto_url  # the server must be up (and the environment pointed at it) first
    return _session()
