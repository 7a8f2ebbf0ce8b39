"""Errors of the oracle: the trust layer between flexledger and the chain.

Hierarchy::

    FlexledgerError
    └── OracleError
        ├── OracleValueError(OracleError, ValueError)   a payload failed validation; names the field
        ├── ChainError                                    talking to the chain failed
        │   ├── ChainUnavailableError(ChainError, ConnectionError)   node unreachable; retry later
        │   ├── ChainMismatchError(ChainError, ValueError)           wrong chain id or manifest
        │   └── ContractRevertError(ChainError)                      a call reverted; carries the
        │                                                             decoded custom error
        ├── ArtifactError(OracleError, FileNotFoundError)  a compiled contract is missing or stale
        ├── IdentityError(OracleError)
        │   ├── KeystoreError(IdentityError, ValueError)   wrong password, unknown participant
        │   └── CredentialError(IdentityError, ValueError) a VC failed verification; says why
        ├── OutboxError(OracleError)
        │   └── MessageRejectedError(OutboxError, ValueError)  chain refused a message for good
        └── AuditError(OracleError)                       the audit could not run (exit code 2)
"""

from typing import Any

from flexledger.errors import FlexledgerError


class OracleError(FlexledgerError):
    """Base class of every oracle error."""


class OracleValueError(OracleError, ValueError):
    """A payload failed validation; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ChainError(OracleError):
    """Talking to the chain failed."""


class ChainUnavailableError(ChainError, ConnectionError):
    """The chain node cannot be reached now; the caller may retry later."""


class ChainMismatchError(ChainError, ValueError):
    """The chain is not the one the settings or the manifest expect."""


class ContractRevertError(ChainError):
    """A contract call reverted with a custom error (``name``) and its decoded ``args``."""

    def __init__(self, name: str, args: dict[str, Any], raw: bytes = b"") -> None:
        rendered = ", ".join(f"{key}={value!r}" for key, value in args.items())
        super().__init__(f"contract reverted with {name}({rendered})")
        self.name = name
        self.args_by_name = args
        self.raw = raw


class ArtifactError(OracleError, FileNotFoundError):
    """A compiled contract artifact is missing or does not match its source."""


class IdentityError(OracleError):
    """A DID, key or credential problem."""


class KeystoreError(IdentityError, ValueError):
    """A keystore cannot be read: unknown participant or wrong password."""


class CredentialError(IdentityError, ValueError):
    """A verifiable credential failed verification; the message says which check failed."""


class OutboxError(OracleError):
    """The durable outbox cannot accept or deliver a message."""


class MessageRejectedError(OutboxError, ValueError):
    """The chain refused a message for good (it reverted); retrying will not help."""


class AuditError(OracleError):
    """The audit cannot run: endpoint unreachable, manifest unreadable."""
