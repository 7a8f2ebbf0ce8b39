"""The yardstick of the order-intake benchmark: a bare FastAPI endpoint on the same server.

``python -m benchmarks.bare_api PORT [--no-access-log]`` serves ``POST /api/v1/bare`` with
uvicorn exactly as ``flexledger serve`` runs it (:func:`flexledger.server.uvicorn_config`):
it parses the same JSON body as ``POST /api/v1/orders`` into a pydantic model and answers
201 with a small JSON object, touching no database, no chain and no signature. Its rate, measured by
the same load generator in the same run, is the ceiling for our intake on this machine.
"""

import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from flexledger.server import uvicorn_config
from flexledger.settings import get_settings


class BareIn(BaseModel):
    market: str
    order: dict[str, Any]
    signature: str


class BareOut(BaseModel):
    order_hash: str
    fields: int


def create_bare_app() -> FastAPI:
    app = FastAPI(title="bare", openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/api/v1/bare", status_code=201)
    async def bare(body: BareIn) -> BareOut:
        return BareOut(order_hash=body.signature[:66], fields=len(body.order))

    return app


def main(argv: list[str]) -> None:
    access_log = "--no-access-log" not in argv
    threads = get_settings().api_threads  # FLEXLEDGER_API_THREADS, as for serve
    config = uvicorn_config(
        create_bare_app(), "127.0.0.1", int(argv[0]), access_log=access_log, threads=threads
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main(sys.argv[1:])
