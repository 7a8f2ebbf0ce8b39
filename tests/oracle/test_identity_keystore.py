"""Keystores: round trip, refusals that name the participant, atomic private files."""

import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from eth_account import Account

from oracle.errors import KeystoreError
from oracle.identity import Keystore, Signer

CHEAP_N = 2**4  # scrypt cost for tests; production uses STRONG_SCRYPT_N
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
ADDRESS = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"


@pytest.fixture
def keystore(tmp_path: Path) -> Keystore:
    return Keystore(tmp_path / "keys", scrypt_n=CHEAP_N)


def test_round_trip_keeps_key_address_and_did(keystore: Keystore) -> None:
    created = keystore.create("dso-north", "s3cret", private_key=KEY)
    loaded = keystore.load("dso-north", "s3cret", network="volta")
    assert created.address == loaded.address == ADDRESS
    assert loaded.private_key == KEY
    assert loaded.did == f"did:ethr:volta:{ADDRESS}"
    assert created.did == f"did:ethr:{ADDRESS}"
    assert keystore.address_of("dso-north") == ADDRESS


def test_create_without_key_makes_a_fresh_one(keystore: Keystore) -> None:
    first = keystore.create("a", "pw")
    second = keystore.create("b", "pw")
    assert first.address != second.address
    assert keystore.load("a", "pw").address == first.address


def test_file_is_a_v3_scrypt_keystore_with_the_given_cost(keystore: Keystore) -> None:
    keystore.create("fsp-1", "pw", private_key=KEY)
    document = json.loads(keystore.path_for("fsp-1").read_text())
    assert document["version"] == 3
    assert document["crypto"]["kdf"] == "scrypt"
    assert document["crypto"]["kdfparams"]["n"] == CHEAP_N
    assert KEY.hex() not in keystore.path_for("fsp-1").read_text()


def test_files_are_private(keystore: Keystore) -> None:
    keystore.create("fsp-1", "pw")
    assert stat.S_IMODE(keystore.path_for("fsp-1").stat().st_mode) == 0o600
    assert stat.S_IMODE(keystore.directory.stat().st_mode) == 0o700


def test_names_and_exists(keystore: Keystore) -> None:
    assert keystore.names() == []
    for name in ("tso", "dso-2", "dso-1"):
        keystore.create(name, "pw")
    (keystore.directory / ".dso-3.abc.tmp").write_text("half")
    (keystore.directory / "notes.txt").write_text("x")
    assert keystore.names() == ["dso-1", "dso-2", "tso"]
    assert keystore.exists("tso")
    assert not keystore.exists("fsp")


def test_wrong_password_names_the_participant(keystore: Keystore) -> None:
    keystore.create("dso-north", "right")
    with pytest.raises(KeystoreError, match=r"wrong password for participant 'dso-north'"):
        keystore.load("dso-north", "wrong")


def test_unknown_participant_names_it(keystore: Keystore) -> None:
    with pytest.raises(KeystoreError, match=r"unknown participant 'ghost'"):
        keystore.load("ghost", "pw")
    with pytest.raises(KeystoreError, match=r"unknown participant 'ghost'"):
        keystore.address_of("ghost")


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xffnot json",
        b'{"version": 3, "crypto": {',
        b"[1, 2, 3]",
        b'{"version": 1, "crypto": {}}',
        b'{"version": 3}',
    ],
)
def test_corrupt_file_names_the_participant(keystore: Keystore, content: bytes) -> None:
    keystore.create("fsp-1", "pw")
    keystore.path_for("fsp-1").write_bytes(content)
    with pytest.raises(KeystoreError, match=r"keystore of participant 'fsp-1' is corrupt"):
        keystore.load("fsp-1", "pw")


def test_damaged_crypto_section_is_corrupt(keystore: Keystore) -> None:
    keystore.create("fsp-1", "pw")
    path = keystore.path_for("fsp-1")
    document = json.loads(path.read_text())
    del document["crypto"]["kdfparams"]
    path.write_text(json.dumps(document))
    with pytest.raises(KeystoreError, match=r"'fsp-1' is corrupt"):
        keystore.load("fsp-1", "pw")


def test_swapped_address_field_is_corrupt(keystore: Keystore) -> None:
    keystore.create("fsp-1", "pw", private_key=KEY)
    path = keystore.path_for("fsp-1")
    document = json.loads(path.read_text())
    document["address"] = Account.create().address[2:].lower()
    path.write_text(json.dumps(document))
    with pytest.raises(KeystoreError, match=r"'fsp-1' is corrupt: address mismatch"):
        keystore.load("fsp-1", "pw")


def test_create_refuses_to_replace_an_existing_keystore(keystore: Keystore) -> None:
    keystore.create("dso", "pw", private_key=KEY)
    before = keystore.path_for("dso").read_bytes()
    with pytest.raises(KeystoreError, match=r"'dso' already has a keystore"):
        keystore.create("dso", "other")
    assert keystore.path_for("dso").read_bytes() == before
    assert os.listdir(keystore.directory) == ["dso.json"]


def test_failed_write_leaves_nothing_behind(
    keystore: Keystore, monkeypatch: pytest.MonkeyPatch
) -> None:
    keystore.create("first", "pw")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        keystore.create("second", "pw")
    assert os.listdir(keystore.directory) == ["first.json"]


def test_concurrent_creates_of_one_name_leave_exactly_one_key(keystore: Keystore) -> None:
    keys = [Account.create().key for _ in range(8)]

    def attempt(key: bytes) -> str | None:
        try:
            return keystore.create("race", "pw", private_key=key).address
        except KeystoreError:
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        winners = [address for address in pool.map(attempt, keys) if address]
    assert len(winners) == 1
    assert keystore.load("race", "pw").address == winners[0]
    assert os.listdir(keystore.directory) == ["race.json"]


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "x" * 65, "sp ace"])
def test_unsafe_names_are_refused(keystore: Keystore, name: str) -> None:
    with pytest.raises(KeystoreError, match="invalid participant name"):
        keystore.create(name, "pw")


def test_empty_password_is_refused(keystore: Keystore) -> None:
    with pytest.raises(KeystoreError, match="'dso': the keystore password must not be empty"):
        keystore.create("dso", "")


@pytest.mark.parametrize("n", [0, 1, 3, 1000])
def test_scrypt_cost_must_be_a_power_of_two(tmp_path: Path, n: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        Keystore(tmp_path, scrypt_n=n)


def test_reprs_never_show_the_key(keystore: Keystore) -> None:
    signer = keystore.create("dso", "pw", private_key=KEY)
    for text in (repr(signer), str(signer), repr(keystore)):
        assert KEY.hex() not in text
        assert KEY.hex()[:16] not in text
    assert "dso" in repr(signer)


def test_signer_moves_between_networks() -> None:
    signer = Signer("op", KEY)
    assert signer.on_network(73799).did == f"did:ethr:0x12047:{ADDRESS}"
    assert signer.on_network("ewc").did == f"did:ethr:ewc:{ADDRESS}"
    assert signer.account.address == ADDRESS
