"""moto in server mode on 127.0.0.1: the offline AWS that rehearsals and tests talk to over HTTP.

boto3 reaches it through `AWS_ENDPOINT_URL`, exactly as it would reach AWS; nothing is patched in
process. Credentials are fake and fixed, so no real account can ever be touched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def _list_moto_modules_once() -> None:
    """moto's router asks `moto.backends.list_of_moto_modules()` on every request whether the
    Host header names a backend (moto/moto_server/werkzeug_app.py, `get_backend_for_host`): a
    listdir of moto's package folder and an isdir per entry, about 0.6 ms of CPU of a request's
    4-5 ms here (bench/README.md, "The test suite"). The folder does not change while the process
    runs, so the first listing answers every later call (its only caller tests membership)."""
    import functools

    from moto import backends

    listing = backends.list_of_moto_modules
    if not hasattr(listing, "cache_info"):  # not already the cached one
        backends.list_of_moto_modules = functools.cache(lambda: tuple(listing()))


def _server_class() -> type[Any]:
    """ThreadedMotoServer whose serve loop polls for shutdown every 20 ms instead of 500 ms, so
    leaving the context does not stall half a second (rehearsals and tests start many servers)."""
    _list_moto_modules_once()
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class _QuickStopServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever(poll_interval=0.02)

    return _QuickStopServer


def _reset(url: str) -> None:
    """Start empty: moto keeps its backends in process-wide globals, so a second server in the
    same process (the next test, the next rehearsal) would otherwise see the previous one's state."""
    import urllib.request

    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@contextmanager
def moto_server(region: str = "us-east-1") -> Iterator[str]:
    """Start moto on 127.0.0.1 on a free port; yield its URL with the process environment pointed
    at it (fake credentials, `AWS_ENDPOINT_URL`); stop it and restore the environment on exit."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = _server_class()(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    _reset(url)
    saved = {k: os.environ.get(k) for k in [*FAKE_ENV, "AWS_ENDPOINT_URL", "AWS_PROFILE"]}
    os.environ.update(FAKE_ENV)
    os.environ["AWS_DEFAULT_REGION"] = region
    os.environ["AWS_REGION"] = region
    os.environ["AWS_ENDPOINT_URL"] = url
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield url
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()
