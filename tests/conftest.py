"""Fixtures every test folder shares: one moto server per test module, and a boto3 session on it.

`moto_url` (tests/moto_fixtures.py) starts moto in server mode on 127.0.0.1 on a free port, once
per test module, with the process environment pointed at it and fake credentials; `moto_session`
is one boto3 session on it (service models load once per module). Tests never reach real AWS.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.moto_fixtures import _session, make_world, moto_url

__all__ = ["make_world", "moto_session", "moto_url"]


@pytest.fixture(scope="module")
def moto_session(moto_url: str) -> Any:
    """A boto3 session (region us-east-1) whose clients talk to this module's moto server."""
    del moto_url  # the server must be up (and the environment pointed at it) first
    return _session()
