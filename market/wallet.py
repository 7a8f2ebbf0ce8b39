"""A wallet client for users' scripts and the demo: sign in and sign orders like MetaMask.

:meth:`Wallet.sign_in_message` builds an EIP-4361 message and signs it with EIP-191
``personal_sign``, returning the 0x-hex signature MetaMask returns; :meth:`Wallet.sign_order`
is ``eth_signTypedData_v4`` over the market's EIP-712 order (the typed data lives in
:mod:`oracle.eip712`, not here). The private key never appears in a repr.
"""

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from market.auth import SiweMessage, format_date_time
from oracle.eip712 import Order, sign_order
from oracle.identity import format_did
from oracle.types import Address, ChainId

DEFAULT_SIGN_IN_TTL: Final = timedelta(minutes=10)


class Wallet:
    """One externally owned account on one chain."""

    __slots__ = ("_account", "_chain_id")

    def __init__(self, private_key: bytes | str, chain_id: int) -> None:
        if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id < 1:
            raise ValueError(f"chain_id must be a positive integer, not {chain_id!r}")
        self._account: LocalAccount = Account.from_key(private_key)
        self._chain_id = ChainId(chain_id)

    @classmethod
    def create(cls, chain_id: int) -> "Wallet":
        """A wallet with a fresh random key (for demos and tests)."""
        return cls(bytes(Account.create().key), chain_id)

    def __repr__(self) -> str:
        return f"Wallet(address={self.address}, chain_id={self._chain_id})"

    @property
    def address(self) -> Address:
        return Address(self._account.address)

    @property
    def chain_id(self) -> ChainId:
        return self._chain_id

    @property
    def did(self) -> str:
        """This account's did:ethr on its chain, spelled as oracle.identity spells it."""
        return format_did(self.address, self._chain_id)

    def personal_sign(self, text: str) -> str:
        """EIP-191 version 0x45 signature of the UTF-8 ``text``, as 0x-hex (r || s || v=27/28)."""
        signed = self._account.sign_message(encode_defunct(text=text))
        return "0x" + bytes(signed.signature).hex()

    def sign_in_message(
        self,
        domain: str,
        uri: str,
        nonce: str,
        statement: str | None = None,
        now: datetime | None = None,
        ttl: timedelta | None = DEFAULT_SIGN_IN_TTL,
    ) -> tuple[str, str]:
        """An EIP-4361 message for this account and chain, and its personal_sign signature.

        Issued at ``now`` (default: the current time), expiring ``ttl`` later (None: no
        expiration time). Raises :class:`~market.auth.SiweError` for an invalid field.
        """
        issued = datetime.now(UTC) if now is None else now
        message = SiweMessage(
            domain=domain,
            address=self.address,
            statement=statement,
            uri=uri,
            chain_id=self._chain_id,
            nonce=nonce,
            issued_at=format_date_time(issued),
            expiration_time=None if ttl is None else format_date_time(issued + ttl),
        )
        text = message.to_text()
        return text, self.personal_sign(text)

    def sign_order(self, order: Order, market_address: Address) -> bytes:
        """The 65-byte ``eth_signTypedData_v4`` signature of ``order`` for that market."""
        return sign_order(order, bytes(self._account.key), self._chain_id, market_address)

    def sign_transaction(self, transaction: dict[str, Any]) -> str:
        """The signed raw transaction as 0x-hex, as ``eth_signTransaction`` returns it."""
        signed = self._account.sign_transaction(transaction)
        return "0x" + bytes(signed.raw_transaction).hex()
