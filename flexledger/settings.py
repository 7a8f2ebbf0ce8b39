"""One settings object for the whole of flexledger.

Values come from environment variables with the ``FLEXLEDGER_`` prefix (or a ``.env``
file). Outside development, placeholder secrets are refused at start-up rather than
discovered in production.
"""

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
    rate_limit_per_s: float = Field(default=200.0, gt=0)
    rate_limit_burst: int = Field(default=400, ge=1)

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
            if self.chain is ChainKind.EMBEDDED:
                raise SettingsError(
                    "FLEXLEDGER_CHAIN=embedded is for development; set FLEXLEDGER_CHAIN=rpc "
                    "and FLEXLEDGER_RPC_URL in production"
                )
        if self.chain is ChainKind.RPC and not self.rpc_url:
            raise SettingsError("FLEXLEDGER_RPC_URL is required when FLEXLEDGER_CHAIN=rpc")
        return self

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
