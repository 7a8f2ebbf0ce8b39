"""The root of the market platform's errors, and the ones every service raises.

Hierarchy (each subpackage adds its branch; the API maps each to one HTTP status)::

    FlexledgerError
    └── MarketError
        ├── market.auth.AuthError          sign-in and sessions (401)
        ├── ForbiddenError                 authenticated, but not allowed to do this (403)
        ├── NotFoundError                  the named thing does not exist (404)
        ├── ConflictError                  the request clashes with the current state (409)
        ├── MarketValueError               a field of the request is invalid (422)
        ├── RateLimitedError               too many requests from one participant (429)
        ├── market.baselines.BaselineError baseline input (names the field)
        └── market.clearing.ClearingError  clearing input and rules
"""

from flexledger.errors import FlexledgerError


class MarketError(FlexledgerError):
    """Base class of every error the market platform raises on purpose."""


class FieldError(MarketError):
    """An error about one field of a request; ``field`` is its dotted path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ForbiddenError(FieldError):
    """The participant is signed in but may not do this (role, ownership, licence area)."""


class NotFoundError(FieldError):
    """The thing a field names does not exist (or the caller may not see it)."""


class ConflictError(FieldError):
    """The request is valid but clashes with the current state (duplicate, gate closed)."""


class MarketValueError(FieldError, ValueError):
    """A field of the request is invalid; the message says what would be valid."""


class RateLimitedError(MarketError):
    """A participant sent more requests than its budget; retry after ``retry_after_s``."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"rate limit exceeded; retry after {retry_after_s:.1f} s")
        self.retry_after_s = retry_after_s
