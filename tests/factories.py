"""Plain factory functions for test objects (no fixtures hidden in here)."""

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine

from oracle.db import make_engine


def new_account() -> LocalAccount:
    account: LocalAccount = Account.create()
    return account


def sqlite_engine(tmp_path: object) -> Engine:
    return make_engine(f"sqlite:///{tmp_path}/oracle.db")
