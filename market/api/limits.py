"""The API's edge: body size per route, JSON nesting depth and the session check, all before
a request body is parsed.

Why here and not in the routes: py-evm and py_ecc raise Python's recursion limit on import
(py_ecc to 100,000), so the json module's C parser could recurse through a few hundred KB of
``[`` until the C stack overflows and the server segfaults. FastAPI reads and parses the
whole body before any dependency runs, so neither a pydantic bound nor the 401 of a missing
session helps. :class:`EdgeLimits` is a plain ASGI middleware that

1. refuses a ``Content-Length`` above the route's bound up front (413, ``loc: ["body"]``),
2. refuses a body-carrying request to a route that needs a session when its bearer token is
   missing or invalid (401), before reading a byte of the body,
3. reads the body counting bytes (chunked bodies too) and stops at the bound (413),
4. refuses JSON nested deeper than :data:`MAX_JSON_DEPTH` (422), found by a vectorised scan
   of the raw bytes that ignores brackets inside JSON strings.

:func:`bound_recursion` brings the recursion limit back to what py-evm itself needs.
"""

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: Whether a bearer token may call body-carrying routes: None when it may, else why not.
TokenCheck = Callable[[str | None], str | None]

KIB: Final = 1024
MIB: Final = 1024 * KIB
DEFAULT_BODY_BYTES: Final = 64 * KIB
MAX_JSON_DEPTH: Final = 32
#: py-evm sets 12 * 1024 so that 1024 nested EVM calls fit; measured: a 1024-deep CALL chain
#: needs between 1,500 and 4,000 Python frames. 12,288 frames of the json C parser fit an
#: 8 MiB thread stack (it overflows above ~60,000), and the depth scan keeps JSON far below.
SAFE_RECURSION_LIMIT: Final = 12 * 1024
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """The largest body, in bytes, that ``method`` requests under ``path_prefix`` may send."""

    method: str
    path_prefix: str  # under the API prefix, e.g. "/grid/import"
    max_bytes: int
    why: str


#: Longest matching prefix wins; everything else gets :data:`DEFAULT_BODY_BYTES`.
BODY_LIMITS: Final = (
    BodyLimit("POST", "/grid/import", 40 * MIB, "pandapower JSON up to 16M chars, escaped"),
    BodyLimit("POST", "/meter-readings", 4 * MIB, "10,000 readings of ~150 bytes"),
    BodyLimit("POST", "/orders/batch", 1 * MIB, "500 signed orders of ~700 bytes"),
    BodyLimit("POST", "/transactions", 256 * KIB, "a raw transaction of 131,074 hex chars"),
    BodyLimit("POST", "/baselines", 8 * MIB, "1,000 nominations of up to a week of slots"),
    BodyLimit("POST", "/assets", 2 * MIB, "batch registrations (50) and mappings (200)"),
    BodyLimit("POST", "/organisations", 2 * MIB, "a licence polygon of 10,000s of points"),
)
#: Body-carrying routes open to callers without a session (paths under the API prefix).
PUBLIC_WRITES: Final = frozenset({("POST", "/auth/sign-in")})

_BLOCK_BYTES: Final = 1 << 20  # scanned a block at a time: a few MB of numpy arrays
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
#: +1 for an opening bracket, -1 for a closing one, 0 for anything else.
_STEP: Final = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


@dataclass(slots=True)
class _ScanState:
    """What one block of the scan hands the next."""

    depth: int = 0  # open brackets so far
    deepest: int = 0
    in_string: int = 0  # 1 inside a JSON string
    backslashes: int = 0  # length of the run of backslashes the last block ended with


def body_limit(method: str, path: str) -> int:
    """The body bound of ``method path`` (``path`` under the API prefix)."""
    matching = [
        limit for limit in BODY_LIMITS if limit.method == method and _under(path, limit.path_prefix)
    ]
    if not matching:
        return DEFAULT_BODY_BYTES
    return max(matching, key=lambda limit: len(limit.path_prefix)).max_bytes


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def json_depth(raw: bytes, stop_above: int | None = None) -> int:
    """The deepest bracket nesting of ``raw`` JSON, brackets inside strings not counted.

    Unclosed brackets count as open (``[[[`` is 3 deep), which is how a recursive parser
    meets them. Vectorised with numpy, block by block: a quote is real unless an odd run of
    backslashes precedes it, the parity of real quotes says what lies inside a string, and
    the running sum of the brackets outside strings is the depth. No Python loop per byte
    or per string, so a 40 MB body of tiny strings costs what one long string does. Stops
    early once the depth passes ``stop_above``.
    """
    state = _ScanState()
    for offset in range(0, len(raw), _BLOCK_BYTES):
        _scan_block(np.frombuffer(raw[offset : offset + _BLOCK_BYTES], dtype=np.uint8), state)
        if stop_above is not None and state.deepest > stop_above:
            break
    return state.deepest


def _scan_block(codes: npt.NDArray[np.uint8], state: _ScanState) -> None:
    backslash = codes == _BACKSLASH
    if backslash.any():
        real_quotes = _unescaped_quotes(codes, backslash, state)
    else:  # the common block: every quote is real, and the next block starts unescaped
        real_quotes = codes == _QUOTE
        if state.backslashes % 2 and codes.size:
            real_quotes[0] = False
        state.backslashes = 0
    inside = (np.cumsum(real_quotes, dtype=np.int32) + state.in_string) & 1
    steps = np.where(inside == 0, _STEP[codes], np.int8(0))
    depth = np.cumsum(steps, dtype=np.int32) + state.depth
    state.deepest = max(state.deepest, int(depth.max()))
    state.depth = int(depth[-1])
    state.in_string = int(inside[-1])


def _unescaped_quotes(
    codes: npt.NDArray[np.uint8], backslash: npt.NDArray[np.bool_], state: _ScanState
) -> npt.NDArray[np.bool_]:
    """Quotes not preceded by an odd run of backslashes (runs may span blocks)."""
    positions = np.arange(codes.size, dtype=np.int32)
    # The last position at or before i that is not a backslash (-1: none in this block).
    last_other = np.where(backslash, np.int32(-1), positions)
    np.maximum.accumulate(last_other, out=last_other)
    run = positions - last_other  # backslashes ending at i, inclusive
    run[last_other < 0] += state.backslashes
    before = np.empty_like(run)
    before[0] = state.backslashes
    before[1:] = run[:-1]
    state.backslashes = int(run[-1])
    result: npt.NDArray[np.bool_] = (codes == _QUOTE) & (before % 2 == 0)
    return result


def is_json(headers: dict[bytes, bytes]) -> bool:
    """Whether FastAPI would parse the body as JSON: no content type, or application/json
    or application/*+json (the rule of fastapi.routing)."""
    content_type = headers.get(b"content-type")
    if content_type is None:
        return True
    media = content_type.split(b";", 1)[0].strip().lower()
    main, _, sub = media.partition(b"/")
    return main == b"application" and (sub == b"json" or sub.endswith(b"+json"))


def bound_recursion() -> None:
    """Bring the recursion limit back to what py-evm needs, if an import raised it higher."""
    if sys.getrecursionlimit() > SAFE_RECURSION_LIMIT:
        sys.setrecursionlimit(SAFE_RECURSION_LIMIT)


def _refusal(status: int, message: str, kind: str, *, loc: list[str]) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    body = {"detail": [{"loc": loc, "msg": message, "type": kind}]}
    return JSONResponse(body, status, headers=headers)


class _TooLarge(Exception):
    pass


class EdgeLimits:
    """ASGI middleware: body size, session and nesting checks before the app sees a body."""

    def __init__(self, app: ASGIApp, *, prefix: str, token_check: TokenCheck) -> None:
        self._app = app
        self._prefix = prefix
        self._token_check = token_check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        refusal, body = await self._screen(scope, receive)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._app(scope, _replay(body, receive), send)

    async def _screen(self, scope: Scope, receive: Receive) -> tuple[JSONResponse | None, bytes]:
        method: str = scope["method"]
        path = str(scope["path"]).removeprefix(self._prefix)
        headers = dict(scope["headers"])
        max_bytes = body_limit(method, path)
        early = self._before_body(method, path, headers, max_bytes)
        if early is not None:
            return early, b""
        try:
            body = await _read_body(receive, max_bytes)
        except _TooLarge:
            return _too_large(max_bytes), b""
        if body and is_json(headers) and await _too_deep(body):
            message = f"JSON nested deeper than {MAX_JSON_DEPTH} levels is refused"
            return _refusal(422, message, "json_too_deep", loc=["body"]), b""
        return None, body

    def _before_body(
        self, method: str, path: str, headers: dict[bytes, bytes], max_bytes: int
    ) -> JSONResponse | None:
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return _refusal(
                    400,
                    "Content-Length must be a decimal number",
                    "invalid",
                    loc=["header", "content-length"],
                )
            if int(declared) > max_bytes:
                return _too_large(max_bytes)
        if method in _BODY_METHODS and (method, path) not in PUBLIC_WRITES:
            why = self._token_check(_bearer(headers))
            if why is not None:
                return _refusal(401, why, "unauthenticated", loc=[])
        return None


async def _too_deep(body: bytes) -> bool:
    """Whether ``body`` nests deeper than allowed; large bodies are scanned in a worker
    thread so that the event loop keeps serving other requests meanwhile."""
    if len(body) <= _BLOCK_BYTES:
        return json_depth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH
    return await run_in_threadpool(json_depth, body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH


def _too_large(max_bytes: int) -> JSONResponse:
    message = f"the request body exceeds this route's limit of {max_bytes} bytes"
    return _refusal(413, message, "body_too_large", loc=["body"])


def _bearer(headers: dict[bytes, bytes]) -> str | None:
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


async def _read_body(receive: Receive, max_bytes: int) -> bytes:
    """The whole body, or :class:`_TooLarge` as soon as more than ``max_bytes`` arrived."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body read already, then the real channel."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
