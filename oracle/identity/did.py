"""did:ethr identifiers: formatting and parsing.

Every flexledger participant is a ``did:ethr`` DID whose identifier is an Ethereum address
(ERC-1056). The network part says which chain's DID registry is authoritative::

    did:ethr:0x<address>                  mainnet (chain id 1)
    did:ethr:<name>:0x<address>           a named network: mainnet, volta, ewc
    did:ethr:0x<hex chain id>:0x<address> any other chain, e.g. 0x12047 (Volta, 73799)

A bare DID means mainnet, so a participant on Volta, the Energy Web Chain or a local dev
chain must use the network form; otherwise a verifier would consult the wrong registry.
Two spellings of one identity (``volta`` and ``0x12047``, lower-case and checksummed
addresses) parse to equal :class:`EthrDid` values, which is how DIDs are compared here.

:func:`canonical_did` spells a DID the way didkit 0.3.3 resolves it: bare for mainnet,
hex chain id otherwise (didkit knows ``mainnet`` and old testnet names, but neither
``volta`` nor ``ewc``). Credentials are written in that spelling.

Public-key identifiers (``did:ethr:0x02…``, 33 bytes) are refused: flexledger keys are
addresses, and refusing them keeps one identity to one spelling family.

Errors::

    IdentityError
    └── DidError(IdentityError, ValueError)   the text is not a valid did:ethr; says why
"""

import functools
import re
from dataclasses import dataclass, field
from typing import Final

from eth_utils.address import is_checksum_address, to_checksum_address

from oracle.errors import IdentityError
from oracle.types import Address, ChainId

DID_PREFIX: Final = "did:ethr:"

#: Named networks that ethr-did-resolver and the Energy Web stack agree on.
NETWORK_CHAIN_IDS: Final[dict[str, int]] = {"mainnet": 1, "volta": 73799, "ewc": 246}
MAINNET_CHAIN_ID: Final = 1

#: A network as callers name it: a known name, a chain id, or None for mainnet.
Network = str | int | None

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_PUBLIC_KEY = re.compile(r"0x[0-9a-fA-F]{66}")
_HEX_CHAIN_ID = re.compile(r"0x[1-9a-f][0-9a-f]*")


class DidError(IdentityError, ValueError):
    """The text is not a valid did:ethr DID; ``did`` is the offending text."""

    def __init__(self, did: object, problem: str) -> None:
        super().__init__(f"invalid did:ethr {did!r}: {problem}")
        self.did = did
        self.problem = problem


@dataclass(frozen=True, slots=True)
class EthrDid:
    """A parsed did:ethr. Equal when address and chain agree, however it was spelled."""

    address: Address
    chain_id: ChainId
    network: str = field(default="", compare=False)

    def __str__(self) -> str:
        """The DID with a checksummed address and the network part as it was given."""
        network = f"{self.network}:" if self.network else ""
        return f"{DID_PREFIX}{network}{self.address}"

    def url(self, fragment: str) -> str:
        """A DID URL into this DID's document, e.g. ``url("controller")``."""
        return f"{self}#{fragment}"


def format_did(address: str, network: Network = None) -> str:
    """The did:ethr of ``address`` on ``network`` (a name, a chain id, or None for mainnet).

    Mainnet gets the bare form; other chain ids the lower-case hex form that
    ethr-did-resolver and didkit understand.
    """
    if not isinstance(address, str) or not isinstance(network, str | int | None):
        raise DidError(address, "format_did takes an address string and a network")
    return _format(address, network)


def parse_did(did: str) -> EthrDid:
    """Parse a bare did:ethr (no fragment, query or path); raise :class:`DidError` if invalid."""
    if not isinstance(did, str):
        raise DidError(did, f"a DID is a string, not {type(did).__name__}")
    return _parse(did)


# Both caches matter: verifiers parse and format the same few DIDs over and over, and the
# EIP-55 checksum costs more than everything else in a parse. ``typed`` keeps True apart
# from the chain id 1.
@functools.lru_cache(maxsize=4096, typed=True)
def _format(address: str, network: Network) -> str:
    return str(EthrDid(_checksummed(address, address), *_network_of(network)))


@functools.lru_cache(maxsize=4096)
def _parse(did: str) -> EthrDid:
    parts = _split(did)
    if len(parts) == 1:
        return EthrDid(_identifier(did, parts[0]), ChainId(MAINNET_CHAIN_ID))
    if len(parts) == 2:
        chain_id = _parse_network(did, parts[0])
        return EthrDid(_identifier(did, parts[1]), chain_id, parts[0])
    raise DidError(did, "expected did:ethr:[network:]0x<address>, found too many ':' parts")


def parse_did_url(url: str) -> tuple[EthrDid, str]:
    """Split a DID URL with a fragment (``did:ethr:…#controller``) into DID and fragment."""
    did, hash_sign, fragment = url.partition("#")
    if not hash_sign or not fragment:
        raise DidError(url, "expected a DID URL with a '#fragment'")
    return parse_did(did), fragment


def canonical_did(did: str) -> str:
    """The spelling every tool resolves: bare for mainnet, ``0x<hex chain id>`` otherwise."""
    parsed = parse_did(did)
    return format_did(parsed.address, parsed.chain_id)


def same_did(a: str, b: str) -> bool:
    """Whether two DID strings name the same identity on the same chain."""
    return parse_did(a) == parse_did(b)


def _split(did: str) -> list[str]:
    """The ':'-separated parts after ``did:ethr:``, after refusing DID URLs."""
    if not did.startswith(DID_PREFIX):
        raise DidError(did, "must start with 'did:ethr:'")
    if any(char in did for char in "#?/"):
        raise DidError(did, "is a DID URL (fragment, query or path); pass the bare DID")
    return did[len(DID_PREFIX) :].split(":")


def _identifier(did: str, text: str) -> Address:
    """The checksummed address of the identifier part."""
    if _PUBLIC_KEY.fullmatch(text):
        raise DidError(did, "public-key identifiers are not supported; use the address")
    if not _ADDRESS.fullmatch(text):
        raise DidError(did, f"identifier {text!r} is not a 0x-prefixed 20-byte address")
    return _checksummed(did, text)


def _checksummed(did: str, text: str) -> Address:
    """EIP-55 form of an address; mixed case must already be a valid checksum."""
    if not _ADDRESS.fullmatch(text):
        raise DidError(did, f"{text!r} is not a 0x-prefixed 20-byte address")
    hex_part = text[2:]
    mixed_case = hex_part != hex_part.lower() and hex_part != hex_part.upper()
    if mixed_case and not is_checksum_address(text):
        raise DidError(did, f"address {text} has a bad EIP-55 checksum")
    return Address(to_checksum_address(text))


def _parse_network(did: str, text: str) -> ChainId:
    """The chain id of a network part: a known name or a canonical hex chain id."""
    if text in NETWORK_CHAIN_IDS:
        return ChainId(NETWORK_CHAIN_IDS[text])
    if _HEX_CHAIN_ID.fullmatch(text):
        return ChainId(int(text, 16))
    known = ", ".join(NETWORK_CHAIN_IDS)
    raise DidError(
        did,
        f"network {text!r} is neither a known name ({known}) nor a lower-case hex chain id "
        "without leading zeros (e.g. 0x12047)",
    )


def _network_of(network: Network) -> tuple[ChainId, str]:
    """Chain id and network label for :func:`format_did`; mainnet has no label."""
    if network is None:
        return ChainId(MAINNET_CHAIN_ID), ""
    if isinstance(network, str):
        chain_id = _parse_network(f"{DID_PREFIX}{network}:…", network)
        return chain_id, "" if chain_id == MAINNET_CHAIN_ID else network
    if isinstance(network, bool) or network < 1:
        raise DidError(network, "a chain id is a positive integer")
    return ChainId(network), "" if network == MAINNET_CHAIN_ID else hex(network)
