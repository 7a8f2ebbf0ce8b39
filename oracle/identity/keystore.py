"""Encrypted keystores, one file per participant, and the :class:`Signer` they unlock.

A keystore directory holds ``<participant>.json`` files in the Web3 Secret Storage format
(version 3, scrypt), so any Ethereum wallet can import them. Files are written atomically
(a private temp file, fsync, then a hard link that refuses to overwrite) with mode 0600,
so a crash or a concurrent ``create`` never leaves a half-written or replaced key behind.

The scrypt cost ``n`` is an explicit knob: the default is the eth-keyfile strength
(2**18, about 256 MiB and a good fraction of a second per unlock); tests pass a cheap
value. Nothing here logs, and no repr shows key material: the private key is reachable
only through the explicit :attr:`Signer.private_key` accessor.

Errors: every failure is a :class:`~oracle.errors.KeystoreError` naming the participant
(unknown participant, wrong password, corrupt file, name taken, bad name).
"""

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Final

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from oracle.errors import KeystoreError
from oracle.identity.did import Network, format_did
from oracle.types import Address

#: eth-keyfile's default scrypt cost; what production keystores use.
STRONG_SCRYPT_N: Final = 2**18

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HEX_ADDRESS = re.compile(r"[0-9a-fA-F]{40}")
_SUFFIX: Final = ".json"
_FILE_MODE: Final = 0o600
_DIR_MODE: Final = 0o700


class Signer:
    """An unlocked participant key: name, address and DID, with the key behind an accessor."""

    __slots__ = ("_account", "_did", "_name", "_network")

    def __init__(self, name: str, private_key: bytes, *, network: Network = None) -> None:
        self._name = name
        self._account: LocalAccount = Account.from_key(private_key)
        self._network = network
        self._did = format_did(self._account.address, network)  # a bad network fails here

    @property
    def name(self) -> str:
        return self._name

    @property
    def address(self) -> Address:
        return Address(self._account.address)

    @property
    def did(self) -> str:
        """The participant's did:ethr on the network this signer was loaded for."""
        return self._did

    @property
    def private_key(self) -> bytes:
        """The raw 32-byte secp256k1 key. Explicit so that every use is easy to find."""
        return bytes(self._account.key)

    @property
    def account(self) -> LocalAccount:
        """The eth-account object, for signing transactions and typed data."""
        return self._account

    def on_network(self, network: Network) -> "Signer":
        """The same key with its DID on another network."""
        return Signer(self._name, self.private_key, network=network)

    def __repr__(self) -> str:
        return f"Signer(name={self._name!r}, did={self.did!r})"


class Keystore:
    """A directory of encrypted participant keystores."""

    def __init__(self, directory: Path, *, scrypt_n: int = STRONG_SCRYPT_N) -> None:
        if scrypt_n < 2 or scrypt_n & (scrypt_n - 1):
            raise ValueError(f"scrypt_n must be a power of two >= 2, got {scrypt_n}")
        self._directory = Path(directory)
        self._scrypt_n = scrypt_n

    @property
    def directory(self) -> Path:
        return self._directory

    def __repr__(self) -> str:
        return f"Keystore({str(self._directory)!r}, scrypt_n={self._scrypt_n})"

    def path_for(self, name: str) -> Path:
        """Where the keystore of ``name`` lives; refuses names that could escape the folder."""
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise KeystoreError(
                f"invalid participant name {name!r}: use 1-64 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit"
            )
        return self._directory / f"{name}{_SUFFIX}"

    def exists(self, name: str) -> bool:
        return self.path_for(name).is_file()

    def names(self) -> list[str]:
        """Participants with a keystore here, sorted."""
        if not self._directory.is_dir():
            return []
        stems = (path.name[: -len(_SUFFIX)] for path in self._directory.glob(f"*{_SUFFIX}"))
        return sorted(stem for stem in stems if _NAME.fullmatch(stem))

    def create(
        self,
        name: str,
        password: str,
        *,
        private_key: bytes | None = None,
        network: Network = None,
    ) -> Signer:
        """Encrypt a new (or the given) key for ``name``; refuses to replace an existing one."""
        path = self.path_for(name)
        _require_password(name, password)
        key = private_key if private_key is not None else bytes(Account.create().key)
        signer = Signer(name, key, network=network)
        encrypted = Account.encrypt(key, password, kdf="scrypt", iterations=self._scrypt_n)
        self._directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        _publish(path, name, json.dumps(encrypted).encode())
        return signer

    def address_of(self, name: str) -> Address:
        """The participant's address, read without the password."""
        return _address_field(name, self._read(name))

    def load(self, name: str, password: str, *, network: Network = None) -> Signer:
        """Decrypt the key of ``name``; wrong password or a corrupt file is a KeystoreError."""
        document = self._read(name)
        key = _decrypt(name, document, password)
        signer = Signer(name, key, network=network)
        if signer.address != _address_field(name, document):
            raise KeystoreError(f"keystore of participant {name!r} is corrupt: address mismatch")
        return signer

    def _read(self, name: str) -> dict[str, Any]:
        """The parsed keystore file of ``name``, checked for the v3 shape."""
        path = self.path_for(name)
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            raise KeystoreError(
                f"unknown participant {name!r}: no keystore in {self._directory}"
            ) from None
        try:
            document = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise KeystoreError(f"keystore of participant {name!r} is corrupt: {error}") from None
        if not isinstance(document, dict) or document.get("version") != 3:
            raise KeystoreError(f"keystore of participant {name!r} is corrupt: not a v3 keystore")
        if not isinstance(document.get("crypto"), dict):
            raise KeystoreError(f"keystore of participant {name!r} is corrupt: no crypto section")
        return document


def _require_password(name: str, password: str) -> None:
    """Refuse empty passwords: an empty password encrypts nothing worth encrypting."""
    if not isinstance(password, str) or not password:
        raise KeystoreError(f"participant {name!r}: the keystore password must not be empty")


def _address_field(name: str, document: dict[str, Any]) -> Address:
    """The ``address`` field of a v3 keystore (hex without 0x), as a 0x-address."""
    raw = document.get("address")
    if not isinstance(raw, str) or not _HEX_ADDRESS.fullmatch(raw.removeprefix("0x")):
        raise KeystoreError(f"keystore of participant {name!r} is corrupt: bad address field")
    return Address(to_checksum_address("0x" + raw.removeprefix("0x")))


def _decrypt(name: str, document: dict[str, Any], password: str) -> bytes:
    """The private key; eth-keyfile reports a wrong password as a MAC mismatch."""
    _require_password(name, password)
    try:
        return bytes(Account.decrypt(document, password))
    except ValueError as error:
        if "MAC mismatch" in str(error):
            raise KeystoreError(
                f"wrong password for participant {name!r} (or its encrypted key was altered)"
            ) from None
        raise KeystoreError(f"keystore of participant {name!r} is corrupt: {error}") from None
    except (KeyError, TypeError, AttributeError) as error:
        raise KeystoreError(f"keystore of participant {name!r} is corrupt: {error!r}") from None


def _publish(path: Path, name: str, content: bytes) -> None:
    """Write ``content`` to ``path`` atomically, mode 0600, never replacing an existing file.

    The bytes go to a private temp file in the same directory and are fsynced; a hard link
    then gives them their final name in one step, failing if the name is taken.
    """
    fd, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as temp:
            os.fchmod(temp.fileno(), _FILE_MODE)
            temp.write(content)
            temp.flush()
            os.fsync(temp.fileno())
        _link_new(temp_name, path, name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
    _fsync_directory(path.parent)


def _link_new(source: str, target: Path, name: str) -> None:
    """Give ``source`` the name ``target`` unless something already has it."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise KeystoreError(
            f"participant {name!r} already has a keystore at {target}; refusing to replace it"
        ) from None


def _fsync_directory(directory: Path) -> None:
    """Make the new directory entry durable (the file's bytes were synced before)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
