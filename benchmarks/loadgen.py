"""A cheap HTTP/1.1 load generator: pre-built requests over keep-alive sockets, asyncio.

Run as its own process (``python -m benchmarks.loadgen PLAN OUT``) so that it does not
share the server's GIL, and so that it spends as little of the machine as it can: every
request's bytes are built before the clock starts, and an answer is read by its status line
and ``Content-Length`` only; a 201's body is parsed for the order hashes (the zero-lost
check needs them).

PLAN is JSON: ``{"host", "port", "clients": [[{"path", "headers", "body"}...]...]}`` (one
list of requests per client, sent back to back on one connection); OUT receives, per
client, the latencies (s), statuses and accepted order hashes, and the wall time.
"""

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import uvloop

TIMEOUT_S = 120.0


def request_bytes(host: str, port: int, request: dict[str, Any]) -> bytes:
    body = request["body"].encode()
    lines = [
        f"POST {request['path']} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in request["headers"].items()),
        "",
        "",
    ]
    return "\r\n".join(lines).encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


def order_hashes(body: bytes) -> list[str]:
    parsed = json.loads(body)
    if "order_hash" in parsed:
        return [str(parsed["order_hash"])]
    return [str(h) for h in parsed.get("order_hashes", [])]


async def client(
    host: str, port: int, plan: list[bytes], start: asyncio.Event, log: dict[str, Any]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    await start.wait()
    try:
        for raw in plan:
            sent = time.perf_counter()
            try:
                writer.write(raw)
                status, body = await asyncio.wait_for(read_response(reader), TIMEOUT_S)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                log["latencies_s"].append(time.perf_counter() - sent)
                log["statuses"].append(0)
                log["errors"].append(repr(error))
                reader, writer = await asyncio.open_connection(host, port)
                continue
            log["latencies_s"].append(time.perf_counter() - sent)
            log["statuses"].append(status)
            if status == 201:
                log["accepted"].extend(order_hashes(body))
            elif len(log["errors"]) < 5:
                log["errors"].append(f"{status}: {body[:300].decode(errors='replace')}")
    finally:
        writer.close()


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    host, port = plan["host"], int(plan["port"])
    raw = [[request_bytes(host, port, r) for r in requests] for requests in plan["clients"]]
    logs: list[dict[str, Any]] = [
        {"latencies_s": [], "statuses": [], "accepted": [], "errors": []} for _ in raw
    ]
    start = asyncio.Event()
    tasks = [
        asyncio.create_task(client(host, port, requests, start, log))
        for requests, log in zip(raw, logs, strict=True)
    ]
    await asyncio.sleep(0.5)  # every connection open before the clock starts
    started = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    return {"wall_s": time.perf_counter() - started, "clients": logs}


def main(argv: list[str]) -> None:
    plan_path, out_path = Path(argv[0]), Path(argv[1])
    result = uvloop.run(run(json.loads(plan_path.read_text())))
    out_path.write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
