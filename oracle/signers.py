"""The accounts the oracle may sign with, looked up by address."""

from collections.abc import Iterable

from eth_account.signers.local import LocalAccount

from oracle.errors import KeystoreError
from oracle.types import Address


class AccountBook:
    """An in-memory set of unlocked accounts (loaded from keystores at start-up)."""

    def __init__(self, accounts: Iterable[LocalAccount] = ()) -> None:
        self._accounts: dict[str, LocalAccount] = {}
        for account in accounts:
            self.add(account)

    def add(self, account: LocalAccount) -> None:
        self._accounts[account.address.lower()] = account

    def account_for(self, address: Address) -> LocalAccount:
        try:
            return self._accounts[address.lower()]
        except KeyError:
            raise KeystoreError(
                f"no unlocked key for {address}; add its keystore to the oracle"
            ) from None

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and address.lower() in self._accounts

    def __len__(self) -> int:
        return len(self._accounts)
