"""Sessions: logout and revocation, the session capped at the signed message's Expiration
Time, the SIWE URI bound to the platform's public URL, tokens kept out of access logs, and
the session secret refused where it would let anyone mint operator tokens."""

import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from flexledger.errors import SettingsError
from flexledger.server import REDACTED, RedactTokens
from flexledger.settings import DEVELOPMENT_SESSION_SECRET, Environment, Settings
from market.db.models import OrganisationKind
from market.wallet import Wallet
from tests.market.api.platform_world import Actor, PlatformWorld, sign_in

PREFIX = "/api/v1"


def _token(actor: Actor) -> str:
    return actor.headers["Authorization"].removeprefix("Bearer ")


def _me(world: PlatformWorld, headers: dict[str, str]) -> int:
    return world.client.get(f"{PREFIX}/auth/me", headers=headers).status_code


def _sign_in_with(world: PlatformWorld, wallet: Wallet, **changes: Any) -> Any:
    challenge = world.client.get(f"{PREFIX}/auth/nonce").json()
    args: dict[str, Any] = {
        "domain": challenge["domain"],
        "uri": challenge["uri"],
        "nonce": challenge["nonce"],
    }
    message, signature = wallet.sign_in_message(**(args | changes))
    return world.client.post(
        f"{PREFIX}/auth/sign-in", json={"message": message, "signature": signature}
    )


# -- logout and revocation ---------------------------------------------------------------------


def test_logout_revokes_the_presented_token_only(world: PlatformWorld) -> None:
    actor = world.new_actor()
    second = sign_in(world.client, actor.wallet)  # the same wallet on another device
    assert world.client.post(f"{PREFIX}/auth/logout", headers=actor.headers).status_code == 204
    refused = world.client.get(f"{PREFIX}/auth/me", headers=actor.headers)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"][0]["msg"]
    body = {"kind": "fsp", "company": {"name": "Gone", "legal_name": "x"}}
    posted = world.client.post(f"{PREFIX}/organisations", json=body, headers=actor.headers)
    assert posted.status_code == 401  # refused at the edge, before the body is read
    assert _me(world, second) == 200


def test_a_logged_out_token_cannot_open_the_activation_stream(world: PlatformWorld) -> None:
    fsp = world.onboard(OrganisationKind.FSP, "Streaming FSP")
    assert world.client.post(f"{PREFIX}/auth/logout", headers=fsp.headers).status_code == 204
    url = f"{PREFIX}/activations/stream?since=0"
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        world.client.websocket_connect(url, subprotocols=[f"bearer.{_token(fsp)}"]) as socket,
    ):
        socket.receive_json()
    assert closed.value.code == 1008
    assert "revoked" in (closed.value.reason or "")


def test_the_stream_accepts_the_token_as_a_subprotocol(world: PlatformWorld) -> None:
    fsp = world.onboard(OrganisationKind.FSP, "Subprotocol FSP")
    protocol = f"bearer.{_token(fsp)}"
    url = f"{PREFIX}/activations/stream?since=0"
    with world.client.websocket_connect(url, subprotocols=[protocol]) as socket:
        assert socket.accepted_subprotocol == protocol
        socket.close()


def test_the_operator_revokes_every_session_of_a_wallet(world: PlatformWorld) -> None:
    victim = world.new_actor()
    other_device = sign_in(world.client, victim.wallet)
    revoked = world.client.post(
        f"{PREFIX}/auth/revoke", json={"address": victim.address}, headers=world.operator.headers
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["address"] == victim.address
    assert _me(world, victim.headers) == 401
    assert _me(world, other_device) == 401
    time.sleep(1.05)  # sessions issued in a later second than the cutoff work again
    assert _me(world, sign_in(world.client, victim.wallet)) == 200
    assert _me(world, world.operator.headers) == 200


def test_only_the_operator_or_the_wallet_itself_may_revoke(world: PlatformWorld) -> None:
    caller, target = world.new_actor(), world.new_actor()
    refused = world.client.post(
        f"{PREFIX}/auth/revoke", json={"address": target.address}, headers=caller.headers
    )
    assert refused.status_code == 403
    assert refused.json()["detail"][0]["loc"] == ["body", "address"]
    assert _me(world, target.headers) == 200
    own = world.client.post(
        f"{PREFIX}/auth/revoke", json={"address": caller.address}, headers=caller.headers
    )
    assert own.status_code == 200
    assert _me(world, caller.headers) == 401
    lower = world.client.post(
        f"{PREFIX}/auth/revoke",
        json={"address": target.address.lower()},
        headers=world.operator.headers,
    )
    assert lower.status_code == 422
    assert lower.json()["detail"][0]["loc"] == ["body", "address"]


def test_a_new_platform_process_sees_the_revocations(world: PlatformWorld) -> None:
    """The rows are in the database: another worker's mirror loads them."""
    from market.auth import verify_session
    from market.auth.revocation import SessionRevocations

    actor = world.new_actor()
    assert world.client.post(f"{PREFIX}/auth/logout", headers=actor.headers).status_code == 204
    session = verify_session(
        _token(actor), datetime.now(UTC), secret=world.platform.auth.session_secret
    )
    assert SessionRevocations(world.platform.engine).is_revoked(session)


# -- the sign-in message ---------------------------------------------------------------------


def test_the_session_ends_at_the_messages_expiration_time(world: PlatformWorld) -> None:
    """Before, a message signed for two minutes gave a session of the full eight hours."""
    signed_at = datetime.now(UTC)
    response = _sign_in_with(
        world, Wallet.create(world.platform.chain_id), now=signed_at, ttl=timedelta(minutes=2)
    )
    assert response.status_code == 200, response.text
    expires_at = datetime.fromisoformat(response.json()["expires_at"])
    assert expires_at <= signed_at + timedelta(minutes=2)
    assert expires_at >= signed_at + timedelta(minutes=2) - timedelta(seconds=5)


def test_a_uri_off_the_public_url_is_refused(world: PlatformWorld) -> None:
    wallet = Wallet.create(world.platform.chain_id)
    for uri in ("https://evil.example/login", "http://127.0.0.1:9999/"):
        response = _sign_in_with(world, wallet, uri=uri)
        assert response.status_code == 401, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "uri"]


def test_an_http_platform_accepts_an_http_scheme(world: PlatformWorld) -> None:
    """The public URL is http here: a message that says so was refused before (https only)."""
    from market.auth import SiweMessage, format_date_time

    wallet = Wallet.create(world.platform.chain_id)
    challenge = world.client.get(f"{PREFIX}/auth/nonce").json()
    assert challenge["uri"].startswith("http://")
    text = SiweMessage(
        scheme="http",
        domain=challenge["domain"],
        address=wallet.address,
        uri=challenge["uri"],
        chain_id=world.platform.chain_id,
        nonce=challenge["nonce"],
        issued_at=format_date_time(datetime.now(UTC)),
    ).to_text()
    response = world.client.post(
        f"{PREFIX}/auth/sign-in", json={"message": text, "signature": wallet.personal_sign(text)}
    )
    assert response.status_code == 200, response.text


# -- access logs -----------------------------------------------------------------------------


def test_access_log_lines_carry_no_token() -> None:
    token = "AbC-123_x.yZ"
    access = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/api/v1/activations/stream?since=3&token={token}", "1.1", 101),
        None,
    )
    assert RedactTokens().filter(access)
    line = access.getMessage()
    assert token not in line
    assert f"token={REDACTED}" in line and "since=3" in line
    websocket = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", f"/api/v1/activations/stream?TOKEN={token}"),
        None,
    )
    RedactTokens().filter(websocket)
    assert token not in websocket.getMessage()


# -- the session secret ------------------------------------------------------------------------


def test_the_development_secret_is_refused_beyond_loopback() -> None:
    for host in ("0.0.0.0", "192.168.1.20", "::", "flex.example.org"):
        with pytest.raises(SettingsError, match="FLEXLEDGER_SESSION_SECRET"):
            Settings(api_host=host).api_bind_warning()
    for host in ("127.0.0.1", "localhost", "::1"):
        assert Settings(api_host=host).api_bind_warning() is None
    allowed = Settings(api_host="0.0.0.0", allow_development_secret_on_network=True)
    warning = allowed.api_bind_warning()
    assert warning is not None and "FLEXLEDGER_SESSION_SECRET" in warning
    real = Settings(api_host="0.0.0.0", session_secret="k3J9x_Vw2Lr7TqP0mB5nYc1HdF6sGa4E")
    assert real.api_bind_warning() is None


PRODUCTION: dict[str, Any] = {
    "environment": Environment.PRODUCTION,
    "keystore_password": "a real keystore password",
    "chain": "rpc",
    "rpc_url": "http://127.0.0.1:8545",
}


@pytest.mark.parametrize(
    "secret",
    [
        "a" * 40,  # one character
        "password" * 5,  # a repeated word
        "abcdefghijklmnopqrstuvwxyz0123456789",  # a run
        "correct-horse-battery-staple-xyzw",  # words: ~124 bits by the estimate
        "0123456789abcdef" * 2 + "ab",  # a repeated hex block
        DEVELOPMENT_SESSION_SECRET,
    ],
)
def test_production_refuses_weak_session_secrets(secret: str) -> None:
    # pydantic wraps the validator's SettingsError (a ValueError) in its ValidationError
    with pytest.raises(ValueError, match="FLEXLEDGER_SESSION_SECRET"):
        Settings(session_secret=secret, **PRODUCTION)


def test_production_accepts_a_random_secret() -> None:
    import secrets

    for secret in (secrets.token_urlsafe(32), secrets.token_hex(32)):
        assert Settings(session_secret=secret, **PRODUCTION).session_secret == secret


def test_serve_refuses_the_development_secret_on_a_network_address(tmp_path: Path) -> None:
    """The command exits with one line naming the variable, before opening anything."""
    env = {
        **os.environ,
        "FLEXLEDGER_DATA_DIR": str(tmp_path),
        "FLEXLEDGER_API_HOST": "0.0.0.0",
        "COLUMNS": "300",
    }
    env.pop("FLEXLEDGER_SESSION_SECRET", None)
    result = subprocess.run(
        [sys.executable, "-m", "flexledger.cli", "serve"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 1
    assert "FLEXLEDGER_SESSION_SECRET" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "chain.sqlite").exists()  # refused before the chain was opened


def test_uvicorns_access_log_is_redacted_once_serve_configured_it() -> None:
    """uvicorn's logging set-up (dictConfig) must not drop the filter installed after it."""
    from fastapi import FastAPI

    from flexledger.server import redact_access_logs, uvicorn_config

    uvicorn_config(FastAPI(), "127.0.0.1", 8000)
    redact_access_logs()
    uvicorn_config(FastAPI(), "127.0.0.1", 8000)  # configured again, as a restart would
    seen: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger("uvicorn.access")
    handler = Capture()
    logger.addHandler(handler)
    try:
        path = "/api/v1/activations/stream?token=SECRET.TOKEN"
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", path, "1.1", 101)
    finally:
        logger.removeHandler(handler)
    assert seen and "SECRET" not in seen[0] and REDACTED in seen[0]
