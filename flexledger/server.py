"""Running the API: uvicorn in front, the oracle's pump behind it.

The pump sends outbox messages, indexes events and applies them to the platform's tables
every ``poll_interval_s``; requests never wait for the chain. ``ServerThread`` runs the same
server inside another program (the demo, the benchmarks) on a real socket.
"""

import logging
import socket
import threading
import time
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from flexledger.settings import get_settings
from flexledger.wiring import start_scheduler
from market.api import create_app
from market.platform import Platform
from oracle.types import Address

log = logging.getLogger("flexledger.server")


class Pump:
    """Calls ``platform.pump()`` every ``interval_s`` on a daemon thread until stopped."""

    def __init__(self, platform: Platform, interval_s: float) -> None:
        self._platform = platform
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flexledger-pump", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report, _ = self._platform.pump()
                idle = report.idle
            except Exception:  # the pump must outlive a bad round; the outbox keeps the work
                log.exception("pump round failed")
                idle = True
            if idle:
                self._stop.wait(self._interval_s)


class ServerThread:
    """uvicorn on 127.0.0.1 in a thread, for programs that drive the API over HTTP."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(
            app, host=self.host, port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "ServerThread":
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the API did not start on {self.url}")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def serve(
    platform: Platform,
    host: str,
    port: int,
    poll_interval_s: float,
    fund: Callable[[Address], None] | None,
) -> None:
    """Serve until interrupted (Ctrl-C)."""
    app = create_app(platform, fund=fund)
    pump = Pump(platform, poll_interval_s)
    pump.start()
    scheduler = start_scheduler(platform, get_settings())  # clears, settles, finalises
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        if scheduler is not None:
            scheduler.stop()
        pump.stop()
