"""The API's edge: body bounds per route, JSON nesting depth and the session check happen
before a body is parsed, so a few hundred KB of brackets cannot crash the server."""

import asyncio
import http.client
import json
import random
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from flexledger.server import ServerThread
from market.api import create_app, limits
from market.api.limits import (
    DEFAULT_BODY_BYTES,
    MAX_JSON_DEPTH,
    SAFE_RECURSION_LIMIT,
    EdgeLimits,
    body_limit,
    json_depth,
)
from tests.market.api.platform_world import PlatformWorld

PREFIX = "/api/v1"


def _post_raw(url_host: str, port: int, path: str, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(url_host, port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"}
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def server(world: PlatformWorld) -> Iterator[ServerThread]:
    with ServerThread(create_app(world.platform)) as running:
        yield running


def test_nested_brackets_are_refused_and_the_server_still_answers(server: ServerThread) -> None:
    """The regression: 300 KB of '[' to an open route segfaulted uvicorn (json's C parser
    under py_ecc's recursion limit of 100,000)."""
    nested = b"[" * 63_000  # deep enough to overflow the C stack; fits sign-in's 64 KiB
    status, body = _post_raw(server.host, server.port, f"{PREFIX}/auth/sign-in", nested)
    assert status == 422
    assert json.loads(body)["detail"][0]["loc"] == ["body"]
    assert json.loads(body)["detail"][0]["type"] == "json_too_deep"
    big = b"[" * 300_000  # the reported payload: refused by size before any parse
    status, body = _post_raw(server.host, server.port, f"{PREFIX}/auth/sign-in", big)
    assert status == 413
    assert json.loads(body)["detail"][0]["loc"] == ["body"]
    status, body = _post_raw(server.host, server.port, f"{PREFIX}/grid/import", big)
    assert status == 401  # a session route refuses the anonymous caller before reading
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    connection.request("GET", f"{PREFIX}/markets")
    assert connection.getresponse().status == 200
    connection.close()


def test_a_signed_in_caller_meets_the_depth_bound_on_large_routes(
    world: PlatformWorld, server: ServerThread
) -> None:
    token = world.operator.headers["Authorization"]
    nested = b'{"nodes": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": token}
    connection.request("POST", f"{PREFIX}/grid/import", body=nested, headers=headers)
    response = connection.getresponse()
    assert response.status == 422
    assert json.loads(response.read())["detail"][0]["loc"] == ["body"]
    connection.close()


def test_depth_up_to_the_bound_reaches_the_route(world: PlatformWorld) -> None:
    headers = {**world.operator.headers, "Content-Type": "application/json"}
    inner = MAX_JSON_DEPTH - 1  # inside the object: MAX_JSON_DEPTH levels in all
    at_bound = b'{"nodes": ' + b"[" * inner + b"]" * inner + b"}"
    over = b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)
    ok = world.client.post(f"{PREFIX}/grid/import", content=at_bound, headers=headers)
    assert ok.status_code == 422
    assert ok.json()["detail"][0]["type"] != "json_too_deep"  # the route's own validation
    too_deep = world.client.post(f"{PREFIX}/grid/import", content=over, headers=headers)
    assert too_deep.status_code == 422
    assert too_deep.json()["detail"][0]["type"] == "json_too_deep"


def test_content_length_over_the_routes_bound_is_413_before_authentication(
    world: PlatformWorld,
) -> None:
    body = b"{" + b" " * DEFAULT_BODY_BYTES + b"}"
    response = world.client.post(
        f"{PREFIX}/orders", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["detail"][0] == {
        "loc": ["body"],
        "msg": f"the request body exceeds this route's limit of {DEFAULT_BODY_BYTES} bytes",
        "type": "body_too_large",
    }


def test_a_chunked_body_is_counted_while_it_streams(world: PlatformWorld) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 8192  # 160 KiB in all, no Content-Length

    headers = {**world.operator.headers, "Content-Type": "application/json"}
    response = world.client.post(f"{PREFIX}/orders", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert response.json()["detail"][0]["loc"] == ["body"]


def test_large_routes_have_larger_bounds() -> None:
    assert body_limit("POST", "/grid/import") >= 40 * 1024 * 1024
    assert body_limit("POST", "/meter-readings") >= 10_000 * 150
    assert body_limit("POST", "/orders/batch") >= 500 * 700
    assert body_limit("POST", "/orders") == DEFAULT_BODY_BYTES
    assert body_limit("POST", "/transactions") > 131_074
    assert body_limit("POST", "/organisations") >= 10_000 * 40  # a licence area polygon
    assert body_limit("POST", "/baselines/batch") >= 1000 * 96 * 20
    assert body_limit("POST", "/organisations/x/approve") == body_limit("POST", "/organisations")
    assert body_limit("POST", "/settlements/run") == DEFAULT_BODY_BYTES
    assert body_limit("POST", "/grid/importer") == DEFAULT_BODY_BYTES  # whole segments only


def test_an_invalid_token_is_refused_before_the_body_is_read(world: PlatformWorld) -> None:
    """The middleware answers 401 without calling ``receive`` once."""
    reads: list[object] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        reads.append(1)
        return {"type": "http.request", "body": b"[]", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not run")

    def check(token: str | None) -> str | None:
        return None if token == "good" else "sign in first"

    edge = EdgeLimits(inner, prefix=PREFIX, token_check=check)
    for authorization in (b"", b"Bearer forged"):
        scope = {
            "type": "http",
            "method": "POST",
            "path": f"{PREFIX}/grid/import",
            "headers": [(b"content-length", b"2"), (b"authorization", authorization)],
        }
        asyncio.run(edge(scope, receive, send))
        assert sent[0]["status"] == 401 and not reads
        sent.clear()


def test_the_depth_scan_ignores_brackets_in_strings() -> None:
    assert json_depth(b'{"a": "[[[[{{{{"}') == 1
    assert json_depth(rb'["\"[[[", "\\", [[]]]') == 3
    assert json_depth(b"[[[") == 3  # unclosed brackets count as the parser meets them
    assert json_depth(b"") == 0
    assert json_depth(b"1") == 0
    assert json_depth(b'[{"x": [1, {"y": []}]}]') == 5


def test_the_depth_scan_of_a_40_mb_body_is_fast() -> None:
    row = b'{"name": "bus [1]", "vn_kv": 0.4, "geo": [1.5, 2.5], "note": "a \\"q\\" {x}"},'
    body = b"[" + row * (40 * 1024 * 1024 // len(row)) + b"{}]"
    started = time.process_time()  # CPU time: the test machine may be busy
    assert json_depth(body) == 3
    assert time.process_time() - started < 5.0


def _reference_depth(raw: bytes) -> int:
    """The scan's rule one character at a time (its oracle): a quote after an even run of
    backslashes opens or closes a string; brackets outside strings nest. For valid JSON this
    is the parser's nesting; past a syntax error the parser stops anyway."""
    depth = deepest = backslashes = 0
    in_string = False
    for char in raw.decode("latin-1"):
        if char == '"' and backslashes % 2 == 0:
            in_string = not in_string
        elif not in_string and char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif not in_string and char in "]}":
            depth -= 1
        backslashes = backslashes + 1 if char == "\\" else 0
    return deepest


def _nested(generator: random.Random, depth: int) -> object:
    if depth == 0 or generator.random() < 0.2:
        return "".join(generator.choices('[]{}"\\x', k=generator.randint(0, 6)))
    if generator.random() < 0.5:
        return [_nested(generator, depth - 1) for _ in range(generator.randint(0, 3))]
    return {str(i) + '"[': _nested(generator, depth - 1) for i in range(generator.randint(0, 3))}


def _true_depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_true_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_true_depth(item) for item in value.values()), default=0)
    return 0


@pytest.mark.parametrize("block_bytes", [1, 2, 3, 5, 8, 1 << 20])
def test_the_depth_scan_follows_strings_and_escapes_across_blocks(
    block_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Block edges inside strings, inside runs of backslashes and before quotes."""
    monkeypatch.setattr(limits, "_BLOCK_BYTES", block_bytes)
    generator = random.Random(block_bytes)
    alphabet = b'[]{}"\\x, '
    samples = [
        rb'["\\", [[1]]]',
        rb'["\"[[[[", [[1]]]',
        rb'["\\\"[[[[", [[1]]]',
        rb'{"a": "}}}}", "b": [{"c": "\\"}]}',
    ]
    samples += [bytes(generator.choices(alphabet, k=generator.randint(0, 40))) for _ in range(300)]
    for sample in samples:
        assert json_depth(sample) == _reference_depth(sample), sample
    for _ in range(100):  # valid JSON: the scan finds the parser's nesting exactly
        value = _nested(generator, 6)
        assert json_depth(json.dumps(value).encode()) == _true_depth(value)


def test_creating_the_app_bounds_the_recursion_limit(world: PlatformWorld) -> None:
    sys.setrecursionlimit(100_000)  # what py_ecc sets on import
    create_app(world.platform)
    assert sys.getrecursionlimit() == SAFE_RECURSION_LIMIT


def test_public_writes_need_no_session(world: PlatformWorld) -> None:
    client: TestClient = world.client
    response = client.post(f"{PREFIX}/auth/sign-in", json={"message": "x", "signature": "0x"})
    assert response.status_code == 422  # the route's validation, not the edge's 401
