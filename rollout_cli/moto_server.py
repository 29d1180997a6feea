"""moto in server mode on 127.0.0.1: the offline AWS that rehearsals and tests talk to over HTTP.

boto3 reaches it through `AWS_ENDPOINT_URL`, exactly as it would reach AWS; nothing is patched in
process. Credentials are fake and fixed, so no real account can ever be touched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@contextmanager
def moto_server(region: str = "us-east-1") -> Iterator[str]:
    """Start moto on 127.0.0.1 on a free port; yield its URL with the process environment pointed
    at it (fake credentials, `AWS_ENDPOINT_URL`); stop it and restore the environment on exit."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
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
