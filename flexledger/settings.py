"""One settings object for the whole of flexledger.

Values come from environment variables with the ``FLEXLEDGER_`` prefix (or a ``.env``
file). Outside development, placeholder secrets are refused at start-up rather than
discovered in production.
"""

import ipaddress
import itertools
import math
import string
from collections import Counter
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flexledger.errors import SettingsError

DEVELOPMENT_PASSWORD = "flexledger-development-only"
DEVELOPMENT_SESSION_SECRET = "flexledger-development-only-session-secret"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class ChainKind(StrEnum):
    EMBEDDED = "embedded"
    RPC = "rpc"


class Settings(BaseSettings):
    """Every knob of flexledger; see README.md for the table of variables."""

    model_config = SettingsConfigDict(env_prefix="FLEXLEDGER_", env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Field(default=Path("var"), description="Where embedded state is kept.")

    chain: ChainKind = ChainKind.EMBEDDED
    rpc_url: str | None = None
    chain_id: int | None = Field(default=None, description="Expected chain id; checked.")
    confirmations: int = Field(default=0, ge=0, le=64)
    rpc_timeout_s: float = Field(default=10.0, gt=0)
    poll_interval_s: float = Field(default=0.5, gt=0)

    database_url: str | None = None
    keystore_password: str = DEVELOPMENT_PASSWORD
    keystore_scrypt_n: int = Field(
        default=2**18, ge=2**10, description="scrypt cost of new keystores (2^18 is strong)."
    )
    manifest_path: Path | None = None

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = Field(
        default=None, description="Base URL wallets sign in to; default http://host:port."
    )
    session_secret: str = Field(
        default=DEVELOPMENT_SESSION_SECRET, min_length=32, description="HMAC key of sessions."
    )
    allow_development_secret_on_network: bool = Field(
        default=False,
        description="Let `serve` bind a non-loopback address with the development session "
        "secret (anyone can mint operator tokens with it): for throwaway demos only.",
    )
    pricing: str = Field(default="pay_as_bid", pattern=r"^(pay_as_bid|pay_as_clear)$")
    funder_key: SecretStr | None = Field(
        default=None, description="Hex private key that pays the deployer's and oracle's gas."
    )
    fund_wei: int = Field(
        default=10**18, ge=0, description="A funder tops the operator and the oracle up to this."
    )
    scheduler: bool = Field(
        default=True, description="on: `serve` clears at gate closure, settles and finalises."
    )
    scheduler_interval_s: float = Field(default=15.0, gt=0, le=3600)
    metering_delay_s: int = Field(
        default=24 * 3600,
        ge=0,
        le=6 * 24 * 3600,  # under the contract's 7-day attestation window
        description="Settle a trade this long after its delivery ends (readings may arrive).",
    )
    webhook_allow_loopback: bool = Field(
        default=False,
        description="Let webhooks post to loopback addresses (local receivers in development "
        "and tests); private, link-local and reserved addresses stay refused.",
    )
    rate_limit_per_s: float = Field(default=200.0, gt=0)
    rate_limit_burst: int = Field(default=400, ge=1)

    api_threads: int = Field(
        default=40, ge=1, le=1000, description="Worker threads of the API's sync routes."
    )
    view_cache_ttl_s: float = Field(
        default=60.0, gt=0, le=3600, description="How long role and DID-owner answers are cached."
    )
    intake_group_commit: bool = Field(
        default=True, description="Commit accepted orders in groups by one writer thread."
    )
    intake_max_group: int = Field(default=512, ge=1, le=10_000, description="Entries per group.")
    intake_linger_s: float = Field(
        default=0.0, ge=0, le=0.1, description="How long the writer waits for a group to fill."
    )

    outbox_batch_size: int = Field(default=500, ge=1, le=2000)
    outbox_max_attempts: int = Field(default=20, ge=1)
    outbox_backoff_base_s: float = Field(default=0.5, gt=0)
    outbox_backoff_max_s: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> "Settings":
        if self.environment is Environment.PRODUCTION:
            if self.keystore_password == DEVELOPMENT_PASSWORD:
                raise SettingsError(
                    "FLEXLEDGER_KEYSTORE_PASSWORD must be set to a real secret in production"
                )
            if self.session_secret == DEVELOPMENT_SESSION_SECRET:
                raise SettingsError(
                    "FLEXLEDGER_SESSION_SECRET must be set to a random secret in production"
                )
            _refuse_weak_secret(self.session_secret)
            if self.chain is ChainKind.EMBEDDED:
                raise SettingsError(
                    "FLEXLEDGER_CHAIN=embedded is for development; set FLEXLEDGER_CHAIN=rpc "
                    "and FLEXLEDGER_RPC_URL in production"
                )
        if self.chain is ChainKind.RPC and not self.rpc_url:
            raise SettingsError("FLEXLEDGER_RPC_URL is required when FLEXLEDGER_CHAIN=rpc")
        return self

    def api_bind_warning(self) -> str | None:
        """Refuse (SettingsError) to serve the development session secret beyond loopback,
        or, when explicitly allowed, the warning to print: whoever knows that public secret
        can sign a session token for the market operator's address."""
        if self.session_secret != DEVELOPMENT_SESSION_SECRET or is_loopback(self.api_host):
            return None
        if not self.allow_development_secret_on_network:
            raise SettingsError(
                f"refusing to serve on {self.api_host} with the development session secret: "
                "set FLEXLEDGER_SESSION_SECRET to a random secret (e.g. python -c 'import "
                "secrets; print(secrets.token_urlsafe(32))'), or bind FLEXLEDGER_API_HOST="
                "127.0.0.1 (FLEXLEDGER_ALLOW_DEVELOPMENT_SECRET_ON_NETWORK=true overrides)"
            )
        return (
            f"WARNING: serving on {self.api_host} with the development session secret; anyone "
            "who can reach it can mint market-operator sessions. Set FLEXLEDGER_SESSION_SECRET."
        )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'flexledger.db'}"

    @property
    def resolved_manifest_path(self) -> Path:
        return self.manifest_path or self.data_dir / "deployment.json"

    @property
    def resolved_public_url(self) -> str:
        return self.public_url or f"http://{self.api_host}:{self.api_port}"

    @property
    def keystore_dir(self) -> Path:
        return self.data_dir / "keystore"

    @property
    def embedded_chain_path(self) -> Path:
        return self.data_dir / "chain.sqlite"


MIN_SECRET_BITS = 128
_CHARACTER_CLASSES = (
    (string.ascii_lowercase, 26),
    (string.ascii_uppercase, 26),
    (string.digits, 10),
)
_OTHER_CLASS = 33  # printable ASCII punctuation and space


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or "localhost") only accepts connections from here."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # another host name: it may resolve anywhere


def secret_strength_bits(secret: str) -> float:
    """A conservative estimate of a secret's entropy, in bits: the lower of the length
    times log2 of the character classes it draws from, and the length times its Shannon
    entropy per character (which catches few distinct characters)."""
    if not secret:
        return 0.0
    pool = sum(size for chars, size in _CHARACTER_CLASSES if any(c in chars for c in secret))
    if any(not any(c in chars for chars, _ in _CHARACTER_CLASSES) for c in secret):
        pool += _OTHER_CLASS
    counts = Counter(secret)
    shannon = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    return min(len(secret) * math.log2(pool), len(secret) * shannon)


def _repeated_pattern(secret: str) -> str | None:
    """What pattern makes ``secret`` guessable, or None: a repeated unit or a run."""
    for period in range(1, len(secret) // 2 + 1):
        if all(secret[i] == secret[i - period] for i in range(period, len(secret))):
            return f"it repeats {secret[:period]!r}"[:40]
    steps = sum(abs(ord(b) - ord(a)) <= 1 for a, b in itertools.pairwise(secret))
    if steps * 2 > len(secret):
        return "it is mostly runs of neighbouring characters"
    return None


def _refuse_weak_secret(secret: str) -> None:
    pattern = _repeated_pattern(secret)
    if pattern is not None:
        raise SettingsError(f"FLEXLEDGER_SESSION_SECRET is guessable ({pattern}); use random")
    bits = secret_strength_bits(secret)
    if bits < MIN_SECRET_BITS:
        raise SettingsError(
            f"FLEXLEDGER_SESSION_SECRET has about {bits:.0f} bits of entropy, under "
            f"{MIN_SECRET_BITS}: use e.g. python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'"
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
