"""The HTTP core of the Python client: sign-in, requests, errors.

Signing happens here, in the caller's process, exactly as a browser wallet would do it:
EIP-4361 for the session, EIP-712 for orders, a signed transaction for registry writes.
The key never leaves the :class:`~market.wallet.Wallet`.
"""

from typing import Any

import httpx2 as httpx

from market.errors import MarketError
from market.wallet import Wallet

API = "/api/v1"


class ApiError(MarketError):
    """The API refused a request; ``status`` and the first error's ``field`` say why."""

    def __init__(self, status: int, body: Any) -> None:
        detail = body.get("detail") if isinstance(body, dict) else None
        first = detail[0] if isinstance(detail, list) and detail else {}
        loc = first.get("loc", []) if isinstance(first, dict) else []
        self.status = status
        self.field = ".".join(str(part) for part in loc if part != "body") or None
        self.message = first.get("msg", str(body)) if isinstance(first, dict) else str(detail)
        super().__init__(f"HTTP {status}: {self.field or 'request'}: {self.message}")


class ClientBase:
    """One wallet's session against one flexledger API."""

    def __init__(self, wallet: Wallet, http: httpx.Client) -> None:
        self.wallet = wallet
        self.http = http
        self._token: str | None = None

    @classmethod
    def connect(cls, base_url: str, wallet: Wallet, timeout_s: float = 30.0) -> "ClientBase":
        return cls(wallet, httpx.Client(base_url=base_url, timeout=timeout_s))

    def close(self) -> None:
        self.http.close()

    def sign_in(self, statement: str = "Sign in to flexledger") -> str:
        challenge = self.get("/auth/nonce", auth=False)
        message, signature = self.wallet.sign_in_message(
            challenge["domain"], challenge["uri"], challenge["nonce"], statement=statement
        )
        session = self.post(
            "/auth/sign-in", {"message": message, "signature": signature}, auth=False
        )
        self._token = str(session["token"])
        return self._token

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self._token}"} if auth and self._token else {}
        response = self.http.request(method, API + path, json=json, params=params, headers=headers)
        if response.status_code >= 400:
            raise ApiError(response.status_code, _body(response))
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def get(self, path: str, params: dict[str, Any] | None = None, *, auth: bool = True) -> Any:
        return self.request("GET", path, params=params, auth=auth)

    def post(self, path: str, json: Any = None, *, auth: bool = True) -> Any:
        return self.request("POST", path, json=json, auth=auth)

    def delete(self, path: str, json: Any = None) -> Any:
        return self.request("DELETE", path, json=json)

    def relay(self, transaction: dict[str, Any]) -> dict[str, Any]:
        """Sign an unsigned transaction the API returned and hand it back for relaying."""
        fields = {k: v for k, v in transaction.items() if k != "from"}
        raw = self.wallet.sign_transaction(fields)
        relayed: dict[str, Any] = self.post("/transactions", {"raw_transaction": raw})
        return relayed


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
