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
4. refuses JSON nested deeper than :data:`MAX_JSON_DEPTH` (422), found by a scan of the raw
   bytes at C speed that ignores brackets inside JSON strings.

:func:`bound_recursion` brings the recursion limit back to what py-evm itself needs.
"""

import re
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
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
    BodyLimit("POST", "/baselines", 4 * MIB, "nominations of many assets x 96 slots"),
    BodyLimit("POST", "/assets", 2 * MIB, "batch asset registrations"),
)
#: Body-carrying routes open to callers without a session (paths under the API prefix).
PUBLIC_WRITES: Final = frozenset({("POST", "/auth/sign-in")})

# A JSON string: quote, then runs of plain characters or escapes, then quote (no backtracking
# blow-up: the alternatives are disjoint).
_JSON_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_OPENING: Final = (ord("["), ord("{"))


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


def json_depth(raw: bytes) -> int:
    """The deepest bracket nesting of ``raw`` JSON, brackets inside strings not counted.

    Unclosed brackets count as open (``[[[`` is 3 deep), which is how a recursive parser
    would meet them. Strings are cut by a regex, the rest reduced to brackets by
    ``bytes.translate`` and the running depth summed by numpy: a 40 MB body takes well
    under a second, with no Python loop per byte.
    """
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == _OPENING[0]) | (codes == _OPENING[1]), 1, -1).astype(np.int32)
    return int(np.cumsum(steps).max())


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
        if body and is_json(headers) and json_depth(body) > MAX_JSON_DEPTH:
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
