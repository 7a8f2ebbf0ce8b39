"""Domain errors as HTTP answers: one status per error class, the field named in the body.

Every error body is ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``, the shape
FastAPI uses for request validation, so clients read one format whatever went wrong.
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from grid.errors import GridError, GridInputError
from market.auth import AuthError, SiweError
from market.errors import (
    ConflictError,
    FieldError,
    ForbiddenError,
    MarketError,
    MarketValueError,
    NotFoundError,
    RateLimitedError,
)
from market.intake import IntakeUnavailableError
from oracle.errors import ChainUnavailableError, OracleValueError

STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (RateLimitedError, 429, "rate_limited"),
    (AuthError, 401, "unauthenticated"),
    (ForbiddenError, 403, "forbidden"),
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (MarketValueError, 422, "invalid"),
    (OracleValueError, 422, "invalid"),
    (ChainUnavailableError, 503, "chain_unavailable"),
    (IntakeUnavailableError, 503, "unavailable"),
    (MarketError, 422, "invalid"),
    (GridError, 422, "invalid"),  # bad grid inputs, a grid that does not converge
)


def error_body(field: str | None, message: str, kind: str) -> dict[str, Any]:
    loc = ["body", *field.split(".")] if field else []
    return {"detail": [{"loc": loc, "msg": message, "type": kind}]}


def _field_and_message(error: Exception) -> tuple[str | None, str]:
    if isinstance(error, FieldError):
        return error.field, error.message
    if isinstance(error, SiweError):
        return error.field, error.message
    if isinstance(error, OracleValueError):
        return error.field, error.message
    if isinstance(error, GridInputError):
        return error.field, error.message
    return None, str(error)


def handle(_request: Request, error: Exception) -> JSONResponse:
    for kind, status, name in STATUS:
        if isinstance(error, kind):
            field, message = _field_and_message(error)
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
            if isinstance(error, RateLimitedError):
                headers["Retry-After"] = str(max(1, round(error.retry_after_s)))
            return JSONResponse(error_body(field, message, name), status, headers=headers)
    raise error


def handle_validation(_request: Request, error: Exception) -> JSONResponse:
    """Request validation (422) without echoing the input: a NaN or a huge body sent back
    would fail to encode or bloat the answer, and the field path says what was wrong."""
    assert isinstance(error, RequestValidationError)
    detail = [
        {
            "loc": list(e.get("loc", ())),
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in error.errors()
    ]
    return JSONResponse({"detail": detail}, 422)


def install(app: FastAPI) -> None:
    for kind in (MarketError, OracleValueError, ChainUnavailableError):
        app.add_exception_handler(kind, handle)
    app.add_exception_handler(RequestValidationError, handle_validation)
