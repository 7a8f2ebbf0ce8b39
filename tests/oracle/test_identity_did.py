"""did:ethr syntax: every network form, one identity per spelling family, precise refusals."""

import pytest
from eth_utils.address import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from oracle.identity import (
    DidError,
    EthrDid,
    canonical_did,
    format_did,
    parse_did,
    parse_did_url,
    same_did,
)
from oracle.types import Address, ChainId

ADDRESS = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
LOWER = ADDRESS.lower()


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        (None, f"did:ethr:{ADDRESS}"),
        ("mainnet", f"did:ethr:{ADDRESS}"),
        (1, f"did:ethr:{ADDRESS}"),
        ("volta", f"did:ethr:volta:{ADDRESS}"),
        ("ewc", f"did:ethr:ewc:{ADDRESS}"),
        (73799, f"did:ethr:0x12047:{ADDRESS}"),
        (246, f"did:ethr:0xf6:{ADDRESS}"),
        ("0x12047", f"did:ethr:0x12047:{ADDRESS}"),
    ],
)
def test_format(network: str | int | None, expected: str) -> None:
    assert format_did(LOWER, network) == expected


@pytest.mark.parametrize(
    ("did", "chain_id"),
    [
        (f"did:ethr:{ADDRESS}", 1),
        (f"did:ethr:{LOWER}", 1),
        (f"did:ethr:mainnet:{ADDRESS}", 1),
        (f"did:ethr:0x1:{ADDRESS}", 1),
        (f"did:ethr:volta:{ADDRESS}", 73799),
        (f"did:ethr:0x12047:{LOWER}", 73799),
        (f"did:ethr:ewc:{ADDRESS}", 246),
        (f"did:ethr:0xf6:{ADDRESS}", 246),
        (f"did:ethr:0x776562337079:{ADDRESS}", 131277322940537),
        (f"did:ethr:0x{ADDRESS[2:].upper()}", 1),
    ],
)
def test_parse(did: str, chain_id: int) -> None:
    parsed = parse_did(did)
    assert parsed.address == ADDRESS
    assert parsed.chain_id == chain_id


def test_spellings_of_one_identity_are_equal() -> None:
    assert parse_did(f"did:ethr:volta:{ADDRESS}") == parse_did(f"did:ethr:0x12047:{LOWER}")
    assert same_did(f"did:ethr:{ADDRESS}", f"did:ethr:mainnet:{LOWER}")
    assert not same_did(f"did:ethr:volta:{ADDRESS}", f"did:ethr:ewc:{ADDRESS}")


def test_str_keeps_the_network_as_written_and_checksums() -> None:
    assert str(parse_did(f"did:ethr:volta:{LOWER}")) == f"did:ethr:volta:{ADDRESS}"
    assert parse_did(f"did:ethr:0xf6:{LOWER}").url("controller") == (
        f"did:ethr:0xf6:{ADDRESS}#controller"
    )


def test_canonical_spelling_uses_hex_chain_ids() -> None:
    assert canonical_did(f"did:ethr:volta:{LOWER}") == f"did:ethr:0x12047:{ADDRESS}"
    assert canonical_did(f"did:ethr:mainnet:{LOWER}") == f"did:ethr:{ADDRESS}"


def test_parse_did_url() -> None:
    did, fragment = parse_did_url(f"did:ethr:0x12047:{ADDRESS}#controller")
    assert did == EthrDid(Address(ADDRESS), ChainId(73799))
    assert fragment == "controller"
    with pytest.raises(DidError, match="'#fragment'"):
        parse_did_url(f"did:ethr:{ADDRESS}")


BAD_CHECKSUM = ADDRESS[:-1] + ("C" if ADDRESS[-1] != "C" else "c")


@pytest.mark.parametrize(
    ("did", "problem"),
    [
        (f"did:web:{ADDRESS}", "must start with 'did:ethr:'"),
        (f"DID:ETHR:{ADDRESS}", "must start with 'did:ethr:'"),
        ("did:ethr:", "not a 0x-prefixed 20-byte address"),
        ("did:ethr:0x1234", "not a 0x-prefixed 20-byte address"),
        (f"did:ethr:{ADDRESS}00", "not a 0x-prefixed 20-byte address"),
        (f"did:ethr:{ADDRESS[2:]}", "not a 0x-prefixed 20-byte address"),
        (f"did:ethr:{BAD_CHECKSUM}", "bad EIP-55 checksum"),
        ("did:ethr:0x02" + "ab" * 32, "public-key identifiers are not supported"),
        (f"did:ethr:goerli:{ADDRESS}", "network 'goerli' is neither a known name"),
        (f"did:ethr:Volta:{ADDRESS}", "network 'Volta'"),
        (f"did:ethr:0X12047:{ADDRESS}", "network '0X12047'"),
        (f"did:ethr:0x012047:{ADDRESS}", "without leading zeros"),
        (f"did:ethr:0x0:{ADDRESS}", "network '0x0'"),
        (f"did:ethr:0x12ABC:{ADDRESS}", "lower-case hex chain id"),
        (f"did:ethr:73799:{ADDRESS}", "network '73799'"),
        (f"did:ethr:volta:extra:{ADDRESS}", "too many ':' parts"),
        (f"did:ethr:{ADDRESS}#controller", "is a DID URL"),
        (f"did:ethr:{ADDRESS}?versionId=3", "is a DID URL"),
        (f"did:ethr:{ADDRESS}/path", "is a DID URL"),
    ],
)
def test_bad_dids_say_what_is_wrong(did: str, problem: str) -> None:
    with pytest.raises(DidError, match=problem) as caught:
        parse_did(did)
    assert caught.value.did == did
    assert isinstance(caught.value, ValueError)


def test_non_strings_are_refused() -> None:
    with pytest.raises(DidError, match="a DID is a string, not int"):
        parse_did(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("network", [0, -5, True, "sepolia"])
def test_format_refuses_bad_networks(network: str | int) -> None:
    with pytest.raises(DidError):
        format_did(ADDRESS, network)


def test_format_refuses_bad_addresses() -> None:
    with pytest.raises(DidError, match="bad EIP-55 checksum"):
        format_did(BAD_CHECKSUM)


@given(raw=st.binary(min_size=20, max_size=20), chain_id=st.integers(1, 2**64))
def test_format_then_parse_round_trips(raw: bytes, chain_id: int) -> None:
    address = to_checksum_address(raw)
    did = format_did(address.lower(), chain_id)
    assert parse_did(did) == EthrDid(Address(address), ChainId(chain_id))
    assert str(parse_did(did)) == did
