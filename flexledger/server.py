"""Running the API: uvicorn in front, the oracle's pump behind it.

The pump sends outbox messages, indexes events and applies them to the platform's tables
every ``poll_interval_s``; requests never wait for the chain. ``ServerThread`` runs the same
server inside another program (the demo, the benchmarks) on a real socket.
"""

import logging
import re
import socket
import threading
import time
from collections.abc import Callable

import anyio.to_thread
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

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


class WorkerThreads:
    """Sets how many worker threads run the sync routes and dependencies (anyio's default
    is 40) before the first request is handled: requests beyond it queue on the event
    loop instead of adding threads that contend for the GIL."""

    def __init__(self, app: ASGIApp, threads: int) -> None:
        self.app = app
        self.threads = threads
        self._set = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._set:
            anyio.to_thread.current_default_thread_limiter().total_tokens = self.threads
            self._set = True
        await self.app(scope, receive, send)


def uvicorn_config(
    app: ASGIApp, host: str, port: int, *, access_log: bool = True, threads: int | None = None
) -> uvicorn.Config:
    """How ``flexledger serve`` runs uvicorn; the benchmarks' bare endpoint uses it too, so
    the two are measured under the same server settings."""
    return uvicorn.Config(
        app if threads is None else WorkerThreads(app, threads),
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
        backlog=2048,  # 64+ clients connecting at once must not be refused
        timeout_keep_alive=30,  # clients keep their connection between requests
    )


_TOKEN_IN_QUERY = re.compile(r"([?&](?:token|access_token)=)[^&\s\"]*", re.IGNORECASE)
REDACTED = "[redacted]"


class RedactTokens(logging.Filter):
    """Blanks ``token=`` values in log records' arguments (uvicorn's access log writes the
    full path, and websocket clients may still send ``?token=<session token>``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(arg) for arg in record.args)
        elif isinstance(record.msg, str):
            record.msg = _redact(record.msg)
        return True


def _redact(value: object) -> object:
    if isinstance(value, str) and "token=" in value.lower():
        return _TOKEN_IN_QUERY.sub(rf"\g<1>{REDACTED}", value)
    return value


def redact_access_logs() -> None:
    """Install :class:`RedactTokens` on uvicorn's loggers (idempotent); call it after
    uvicorn configured logging, which keeps existing filters."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def serve(
    platform: Platform,
    host: str,
    port: int,
    poll_interval_s: float,
    fund: Callable[[Address], None] | None,
    *,
    access_log: bool = True,
    threads: int | None = None,
) -> None:
    """Serve until interrupted (Ctrl-C); ``threads``: worker threads (see WorkerThreads)."""
    app = create_app(platform, fund=fund)
    pump = Pump(platform, poll_interval_s)
    pump.start()
    scheduler = start_scheduler(platform, get_settings())  # clears, settles, finalises
    config = uvicorn_config(app, host, port, access_log=access_log, threads=threads)
    redact_access_logs()  # after the config: it set uvicorn's logging up
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it has already shut down on
        log.info("stopped on Ctrl-C")
    finally:
        if scheduler is not None:
            scheduler.stop()
        pump.stop()
