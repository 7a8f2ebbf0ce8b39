"""EIP-4361 sign-in: exact text both ways, precise refusals, single-use nonces; session tokens."""

import base64
import itertools
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import given, settings
from hypothesis import strategies as st

from flexledger.errors import FlexledgerError
from market.auth import (
    AuthError,
    MarketError,
    MemoryNonceStore,
    SessionError,
    SessionFailure,
    SiweError,
    SiweMessage,
    VerifiedSignIn,
    format_date_time,
    generate_nonce,
    issue_session,
    verify_session,
    verify_sign_in,
)
from oracle.types import Address, ChainId

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
OTHER_KEY = bytes.fromhex("b25c7db31feed9122727bf0939dc769a96564b2de4c4726d035b36ecf1e5b364")
ADDRESS = Address(Account.from_key(KEY).address)
DOMAIN = "flex.example.org"
CHAIN_ID = ChainId(73799)
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SECRET = b"0123456789abcdef0123456789abcdef"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HEADER = " wants you to sign in with your Ethereum account:"

# Written by hand from the EIP-4361 ABNF, every optional part present.
EXAMPLE_TEXT = (
    "https://example.com:8443 wants you to sign in with your Ethereum account:\n"
    "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n"
    "\n"
    "I accept the ExampleOrg Terms of Service: https://example.com/tos\n"
    "\n"
    "URI: https://example.com:8443/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z\n"
    "Expiration Time: 2021-10-01T16:25:24.000Z\n"
    "Not Before: 2021-09-30T18:25:24+02:00\n"
    "Request ID: req-1:login@flex\n"
    "Resources:\n"
    "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/\n"
    "- https://example.com/my-web2-claim.json"
)
EXAMPLE = SiweMessage(
    scheme="https",
    domain="example.com:8443",
    address=Address("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"),
    statement="I accept the ExampleOrg Terms of Service: https://example.com/tos",
    uri="https://example.com:8443/login",
    version="1",
    chain_id=ChainId(1),
    nonce="32891756",
    issued_at="2021-09-30T16:25:24Z",
    expiration_time="2021-10-01T16:25:24.000Z",
    not_before="2021-09-30T18:25:24+02:00",
    request_id="req-1:login@flex",
    resources=(
        "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
        "https://example.com/my-web2-claim.json",
    ),
)
# The same with only the required parts: no statement means three line breaks after the address.
MINIMAL_TEXT = (
    "example.com wants you to sign in with your Ethereum account:\n"
    "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n"
    "\n"
    "\n"
    "URI: https://example.com/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z"
)

OPTIONAL_FIELDS: dict[str, Any] = {
    "scheme": "https",
    "statement": "Sign in to flexledger.",
    "expiration_time": "2024-05-01T12:10:00.000Z",
    "not_before": "2024-05-01T11:59:00Z",
    "request_id": "7f3a",
    "resources": ("https://flex.example.org/orders", "urn:flexledger:market"),
}


def message(**fields: Any) -> SiweMessage:
    base: dict[str, Any] = {
        "domain": DOMAIN,
        "address": ADDRESS,
        "uri": f"https://{DOMAIN}/login",
        "chain_id": CHAIN_ID,
        "nonce": "abcdEFGH1234",
        "issued_at": format_date_time(NOW),
    }
    return SiweMessage(**(base | fields))


def personal_sign(text: str, key: bytes = KEY) -> bytes:
    return bytes(Account.sign_message(encode_defunct(text=text), key).signature)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def store_at(now: datetime = NOW, ttl: timedelta = timedelta(minutes=10)) -> MemoryNonceStore:
    return MemoryNonceStore(ttl, clock=Clock(now))


def verify(text: str, signature: bytes | str, store: MemoryNonceStore, **kw: Any) -> Any:
    options: dict[str, Any] = {
        "expected_domain": DOMAIN,
        "expected_chain_id": CHAIN_ID,
        "nonce_store": store,
        "now": NOW + timedelta(seconds=30),
    }
    return verify_sign_in(text, signature, **(options | kw))


# --- the text ---------------------------------------------------------------------------


def test_the_example_with_every_optional_field_has_the_exact_text() -> None:
    assert EXAMPLE.to_text() == EXAMPLE_TEXT
    assert SiweMessage.parse(EXAMPLE_TEXT) == EXAMPLE


def test_a_message_without_statement_has_three_line_breaks_after_the_address() -> None:
    minimal = SiweMessage(
        domain="example.com",
        address=EXAMPLE.address,
        uri="https://example.com/login",
        chain_id=ChainId(1),
        nonce="32891756",
        issued_at="2021-09-30T16:25:24Z",
    )
    assert minimal.to_text() == MINIMAL_TEXT
    assert SiweMessage.parse(MINIMAL_TEXT) == minimal


@pytest.mark.parametrize(
    "present", list(itertools.product([False, True], repeat=len(OPTIONAL_FIELDS)))
)
def test_every_combination_of_optional_fields_round_trips(present: tuple[bool, ...]) -> None:
    chosen = {
        name: value
        for (name, value), on in zip(OPTIONAL_FIELDS.items(), present, strict=True)
        if on
    }
    original = message(**chosen)
    text = original.to_text()
    assert SiweMessage.parse(text) == original
    assert SiweMessage.parse(text).to_text() == text
    for name in OPTIONAL_FIELDS:
        assert (getattr(original, name) is None) == (name not in chosen)


def test_an_empty_resources_list_and_an_empty_request_id_are_kept() -> None:
    original = message(resources=(), request_id="")
    text = original.to_text()
    assert text.endswith("\nRequest ID: \nResources:")
    assert SiweMessage.parse(text) == original
    assert message(resources=None).to_text().count("Resources:") == 0


def test_resources_given_as_a_list_become_a_tuple() -> None:
    assert message(resources=["https://a.example/x"]).resources == ("https://a.example/x",)


def test_timestamps_keep_their_text_and_read_as_utc() -> None:
    parsed = message(
        issued_at="2021-09-30t18:25:24.123456789+02:00",
        expiration_time="2016-12-31T23:59:60z",
        not_before="2021-09-30T16:25:24-00:30",
    )
    assert parsed.issued_at_utc == datetime(2021, 9, 30, 16, 25, 24, 123456, tzinfo=UTC)
    assert parsed.expiration_time_utc == datetime(2017, 1, 1, tzinfo=UTC)
    assert parsed.not_before_utc == datetime(2021, 9, 30, 16, 55, 24, tzinfo=UTC)
    assert SiweMessage.parse(parsed.to_text()) == parsed
    assert "Issued At: 2021-09-30t18:25:24.123456789+02:00\n" in parsed.to_text()


def test_format_date_time_writes_milliseconds_in_utc_and_never_rounds_up() -> None:
    moment = datetime(2024, 5, 1, 14, 0, 0, 999999, tzinfo=UTC)
    assert format_date_time(moment) == "2024-05-01T14:00:00.999Z"
    assert format_date_time(datetime(5, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0005-01-02T03:04:05.000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_date_time(datetime(2024, 5, 1))


@pytest.mark.parametrize(
    "domain", ["localhost", "localhost:3000", "127.0.0.1:8080", "[::1]:8080", "u:p@x.example"]
)
def test_authorities_the_rfc_allows_are_accepted_as_domain(domain: str) -> None:
    assert SiweMessage.parse(message(domain=domain).to_text()).domain == domain


@pytest.mark.parametrize(
    "uri",
    ["urn:isbn:0451450523", "did:ethr:0x12047:" + ADDRESS, "file:///etc/x", "https://a/?q=1#f"],
)
def test_uris_the_rfc_allows_are_accepted(uri: str) -> None:
    assert message(uri=uri, resources=(uri,)).uri == uri


# --- malformed text ---------------------------------------------------------------------


def edit(line_number: int, new: str | None) -> str:
    """EXAMPLE_TEXT with one line replaced (None deletes it)."""
    lines = EXAMPLE_TEXT.split("\n")
    if new is None:
        del lines[line_number]
    else:
        lines[line_number] = new
    return "\n".join(lines)


LOWER_CASED_ONE = "0xc02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
MALFORMED: list[tuple[str, str, str]] = [
    ("missing URI line", edit(5, None), "uri"),
    ("URI without its tag", edit(5, "https://example.com/login"), "uri"),
    ("URI not a URI", edit(5, "URI: not a uri"), "uri"),
    ("bad address checksum", edit(1, LOWER_CASED_ONE), "address"),
    ("all lower-case address", edit(1, EXAMPLE.address.lower()), "address"),
    ("short address", edit(1, EXAMPLE.address[:-1]), "address"),
    ("short nonce", edit(8, "Nonce: 1234567"), "nonce"),
    ("nonce with a dash", edit(8, "Nonce: 1234-5678"), "nonce"),
    ("non-ASCII nonce", edit(8, "Nonce: 1234567٨"), "nonce"),
    ("month 13", edit(9, "Issued At: 2021-13-30T16:25:24Z"), "issued_at"),
    ("space for T", edit(9, "Issued At: 2021-09-30 16:25:24Z"), "issued_at"),
    ("no offset", edit(9, "Issued At: 2021-09-30T16:25:24"), "issued_at"),
    ("offset +24:00", edit(9, "Issued At: 2021-09-30T16:25:24+24:00"), "issued_at"),
    ("year 0", edit(9, "Issued At: 0000-01-01T00:00:00Z"), "issued_at"),
    ("past year 9999", edit(9, "Issued At: 9999-12-31T23:30:00-01:00"), "issued_at"),
    ("word for a time", edit(10, "Expiration Time: tomorrow"), "expiration_time"),
    ("30 February", edit(11, "Not Before: 2021-02-30T00:00:00Z"), "not_before"),
    ("version 2", edit(6, "Version: 2"), "version"),
    ("hex chain id", edit(7, "Chain ID: 0x1"), "chain_id"),
    ("chain id zero", edit(7, "Chain ID: 0"), "chain_id"),
    ("huge chain id", edit(7, "Chain ID: " + "9" * 5000), "chain_id"),
    ("no header suffix", edit(0, "example.com wants you to sign in"), "domain"),
    ("domain with a path", edit(0, "example.com/x" + HEADER), "domain"),
    ("domain with a space", edit(0, "example .com" + HEADER), "domain"),
    ("bad scheme", edit(0, "1https://example.com" + HEADER), "scheme"),
    ("statement with '%'", edit(3, "100% sure"), "statement"),
    ("statement over two lines", edit(3, "line one\nline two"), "statement"),
    ("no empty line after address", edit(2, None), "statement"),
    ("only one empty line, no statement", MINIMAL_TEXT.replace("\n\n\n", "\n\n"), "statement"),
    ("stops after the address", "\n".join(EXAMPLE_TEXT.split("\n")[:2]), "statement"),
    ("bad request id", edit(12, "Request ID: has space"), "request_id"),
    ("resource not a URI", edit(14, "- not a uri"), "resources"),
    ("resource without dash", edit(14, "https://example.com/x"), "resources"),
    ("not before repeated", edit(12, "Not Before: 2021-09-30T16:25:24Z"), "not_before"),
    ("tag without space", edit(12, "Request ID:x"), "request_id"),
    ("trailing line break", EXAMPLE_TEXT + "\n", "message"),
    ("CR LF line breaks", EXAMPLE_TEXT.replace("\n", "\r\n"), "message"),
    ("empty text", "", "domain"),
]


@pytest.mark.parametrize(
    ("text", "field"), [(t, f) for _, t, f in MALFORMED], ids=[n for n, *_ in MALFORMED]
)
def test_malformed_text_is_refused_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(SiweError) as caught:
        SiweMessage.parse(text)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_optional_lines_out_of_order_name_the_misplaced_field() -> None:
    lines = EXAMPLE_TEXT.split("\n")
    lines[10], lines[11] = lines[11], lines[10]  # Not Before before Expiration Time
    with pytest.raises(SiweError) as caught:
        SiweMessage.parse("\n".join(lines))
    assert caught.value.field == "expiration_time"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"chain_id": True}, "chain_id"),
        ({"chain_id": 2**256}, "chain_id"),
        ({"statement": ""}, "statement"),
        ({"nonce": 12345678}, "nonce"),
        ({"issued_at": NOW}, "issued_at"),
        ({"resources": "https://a.example/x"}, "resources"),
        ({"domain": ""}, "domain"),
        ({"domain": "[fe80::1%eth0]"}, "domain"),
        ({"domain": "[::1"}, "domain"),
        ({"domain": "example.com:80a"}, "domain"),
        ({"scheme": ""}, "scheme"),
    ],
)
def test_building_an_invalid_message_is_refused(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(SiweError) as caught:
        message(**fields)
    assert caught.value.field == field


def test_the_error_hierarchy() -> None:
    error = SiweError("nonce", "x")
    assert isinstance(error, AuthError) and isinstance(error, ValueError)
    assert isinstance(error, MarketError) and isinstance(error, FlexledgerError)
    assert issubclass(SessionError, AuthError)


# --- properties of the text -------------------------------------------------------------

_HOSTS = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,6}){0,2}", fullmatch=True)
_DOMAINS = st.one_of(_HOSTS, st.builds("{}:{}".format, _HOSTS, st.integers(1, 65535)))
_URIS = st.builds(
    "https://{}/{}".format, _HOSTS, st.from_regex(r"[a-z0-9_~.-]{0,12}", fullmatch=True)
)
_STATEMENT_CHARS = "abcXYZ019 -._~:/?#[]@!$&'()*+,;="
_REQUEST_IDS = st.from_regex(r"([A-Za-z0-9:@._~!$&'()*+,;=-]|%[0-9A-F]{2}){0,8}", fullmatch=True)
_TIMES = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.just(UTC)
).map(format_date_time)


@st.composite
def siwe_messages(draw: st.DrawFn) -> SiweMessage:
    def maybe(strategy: st.SearchStrategy[Any]) -> Any:
        return draw(st.none() | strategy)

    return SiweMessage(
        scheme=maybe(st.sampled_from(["https", "http", "web+flex"])),
        domain=draw(_DOMAINS),
        address=Address(Account.from_key(draw(st.sampled_from([KEY, OTHER_KEY]))).address),
        statement=maybe(st.text(_STATEMENT_CHARS, min_size=1, max_size=40)),
        uri=draw(_URIS),
        chain_id=ChainId(draw(st.integers(1, 2**256 - 1))),
        nonce=draw(st.from_regex(r"[A-Za-z0-9]{8,24}", fullmatch=True)),
        issued_at=draw(_TIMES),
        expiration_time=maybe(_TIMES),
        not_before=maybe(_TIMES),
        request_id=maybe(_REQUEST_IDS),
        resources=maybe(st.lists(_URIS, max_size=3).map(tuple)),
    )


@settings(max_examples=200, deadline=None)
@given(siwe_messages())
def test_generated_messages_round_trip(original: SiweMessage) -> None:
    text = original.to_text()
    assert SiweMessage.parse(text) == original
    assert SiweMessage.parse(text).to_text() == text


def only_siwe_errors(text: str) -> None:
    try:
        parsed = SiweMessage.parse(text)
    except SiweError:
        return
    assert SiweMessage.parse(parsed.to_text()) == parsed


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_arbitrary_text_only_raises_siwe_error(text: str) -> None:
    only_siwe_errors(text)


_LINE_VARIANTS = [
    *EXAMPLE_TEXT.split("\n"),
    "",
    "Resources:",
    "- ",
    "Chain ID: 99999999999999999999999999999999999999999999999999999999999999999999999999999999",
    "Issued At: 2016-12-31T23:59:60Z",
    "Issued At: 9999-12-31T23:59:60Z",
    "Expiration Time: 0001-01-01T00:00:00+23:59",
    "Request ID: ",
    "[::1 wants you to sign in with your Ethereum account:",
    "a://[v1.x]:9 wants you to sign in with your Ethereum account:",
]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_LINE_VARIANTS) | st.text(max_size=12), max_size=18))
def test_shuffled_and_mangled_lines_only_raise_siwe_error(lines: list[str]) -> None:
    only_siwe_errors("\n".join(lines))


# --- verification -----------------------------------------------------------------------


def signed(store: MemoryNonceStore, *, key: bytes = KEY, **fields: Any) -> tuple[str, bytes]:
    text = message(nonce=store.issue(), **fields).to_text()
    return text, personal_sign(text, key)


def test_a_signed_message_verifies_once() -> None:
    store = store_at()
    text, signature = signed(store, expiration_time="2024-05-01T12:10:00Z")
    result = verify(text, signature, store)
    assert result == VerifiedSignIn(
        address=ADDRESS,
        chain_id=CHAIN_ID,
        nonce=SiweMessage.parse(text).nonce,
        expires_at=datetime(2024, 5, 1, 12, 10, tzinfo=UTC),
    )
    with pytest.raises(SiweError) as replayed:
        verify(text, signature, store)
    assert replayed.value.field == "nonce"


@pytest.mark.parametrize(
    "form",
    [
        lambda sig: sig,
        lambda sig: "0x" + sig.hex(),
        lambda sig: sig.hex().upper(),
        lambda sig: sig[:64] + bytes([sig[64] - 27]),  # v as 0/1, as some hardware wallets give
    ],
)
def test_the_signature_may_be_bytes_hex_or_have_v_0_or_1(form: Callable[[bytes], Any]) -> None:
    store = store_at()
    text, signature = signed(store)
    assert verify(text, form(signature), store).address == ADDRESS


_ON_DOMAIN: dict[str, Any] = {"expected_uri": f"https://{DOMAIN}"}
REJECTIONS: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("wrong signer", {"key": OTHER_KEY}, {}, "signature"),
    ("wrong domain", {"domain": "flex.example.org.evil.example"}, {}, "domain"),
    ("expected another domain", {}, {"expected_domain": "other.example"}, "domain"),
    ("wrong chain", {"chain_id": ChainId(1)}, {}, "chain_id"),
    ("http origin", {"scheme": "http"}, {}, "scheme"),
    ("expired", {"expiration_time": "2024-05-01T12:00:30Z"}, {}, "expiration_time"),
    ("not yet valid", {"not_before": "2024-05-01T13:00:00Z"}, {}, "not_before"),
    ("issued in the future", {"issued_at": "2024-05-01T12:05:00Z"}, {}, "issued_at"),
    # The URI must be on the relying party's public URL: scheme, host and port.
    ("uri on another host", {"uri": "https://evil.example/login"}, _ON_DOMAIN, "uri"),
    ("uri on another port", {"uri": f"https://{DOMAIN}:8443/"}, _ON_DOMAIN, "uri"),
    ("uri with another scheme", {"uri": f"http://{DOMAIN}/login"}, _ON_DOMAIN, "uri"),
    ("https message, http party", {"scheme": "https"}, {"expected_scheme": "http"}, "scheme"),
]


@pytest.mark.parametrize(
    ("sign_with", "verify_with", "field"),
    [case[1:] for case in REJECTIONS],
    ids=[case[0] for case in REJECTIONS],
)
def test_a_rejected_message_names_the_field_and_keeps_the_nonce(
    sign_with: dict[str, Any], verify_with: dict[str, Any], field: str
) -> None:
    store = store_at()
    text, signature = signed(store, **sign_with)
    with pytest.raises(SiweError) as caught:
        verify(text, signature, store, **verify_with)
    assert caught.value.field == field
    assert len(store) == 1  # a refused message does not spend the nonce


def test_the_window_edges() -> None:
    store = store_at()
    at_now = "2024-05-01T12:00:30Z"  # the instant verify() checks at
    text, signature = signed(
        store, issued_at=at_now, not_before=at_now, expiration_time="2024-05-01T12:00:31Z"
    )
    assert verify(text, signature, store).nonce  # now == issued at == not before: valid


def test_the_expected_scheme_and_domain_compare_case_insensitively() -> None:
    store = store_at()
    text, signature = signed(store, scheme="HTTP", domain="Flex.Example.org")
    assert verify(text, signature, store, expected_scheme="http").address == ADDRESS


def test_a_nonce_the_store_never_issued_is_refused() -> None:
    text = message(nonce="neverIssued1").to_text()
    with pytest.raises(SiweError) as caught:
        verify(text, personal_sign(text), store_at())
    assert caught.value.field == "nonce"


def test_a_nonce_past_its_time_to_live_is_refused() -> None:
    clock = Clock(NOW)
    store = MemoryNonceStore(timedelta(minutes=5), clock=clock)
    text, signature = signed(store)
    clock.now = NOW + timedelta(minutes=5)
    with pytest.raises(SiweError) as caught:
        verify(text, signature, store)
    assert caught.value.field == "nonce"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda text: text.replace("URI: https://", "URI: http://"),
        lambda text: text.replace("Chain ID: 73799", "Chain ID: 73798"),
        lambda text: text.replace("\n\n\nURI:", "\n\nSend all my tokens\n\nURI:"),
        lambda text: text.replace(ADDRESS, Account.from_key(OTHER_KEY).address),
    ],
    ids=["uri", "chain id", "statement added", "address swapped"],
)
def test_tampered_text_is_refused(tamper: Callable[[str], str]) -> None:
    store = store_at()
    text, signature = signed(store, chain_id=CHAIN_ID)
    tampered = tamper(text)
    assert tampered != text
    with pytest.raises(SiweError) as caught:
        verify(tampered, signature, store, expected_chain_id=SiweMessage.parse(tampered).chain_id)
    assert caught.value.field == "signature"


def high_s_twin(signature: bytes) -> bytes:
    """The other valid ECDSA signature of the same digest (s -> n - s, parity flipped)."""
    s = int.from_bytes(signature[32:64], "big")
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])


@pytest.mark.parametrize(
    "mangle",
    [
        lambda sig: sig[:64],
        lambda sig: sig + b"\x00",
        lambda sig: sig[:64] + b"\x05",
        lambda sig: "0x" + sig.hex()[:-2] + "zz",
        lambda sig: b"\x00" * 65,
        lambda sig: b"\xff" * 32 + b"\x01" * 32 + b"\x1b",
        lambda sig: 12345,
        high_s_twin,
    ],
    ids=["short", "long", "bad v", "not hex", "zeros", "r too big", "not bytes", "high s"],
)
def test_malformed_signatures_are_refused(mangle: Callable[[bytes], Any]) -> None:
    store = store_at()
    text, signature = signed(store)
    with pytest.raises(SiweError) as caught:
        verify(text, mangle(signature), store)
    assert caught.value.field == "signature"
    assert len(store) == 1


def test_the_high_s_twin_would_recover_the_same_signer() -> None:
    text = message().to_text()
    twin = high_s_twin(personal_sign(text))
    assert Account.recover_message(encode_defunct(text=text), signature=twin) == ADDRESS


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80) | st.text(max_size=140))
def test_arbitrary_signatures_only_raise_siwe_error(signature: bytes | str) -> None:
    store = store_at()
    text, _ = signed(store)
    with pytest.raises(SiweError) as caught:
        verify(text, signature, store)
    assert caught.value.field == "signature"


def test_verify_needs_an_aware_now() -> None:
    store = store_at()
    text, signature = signed(store)
    with pytest.raises(ValueError, match="timezone-aware"):
        verify(text, signature, store, now=datetime(2024, 5, 1, 12, 1))


# --- nonces -----------------------------------------------------------------------------


def test_generated_nonces_are_long_random_and_alphanumeric() -> None:
    nonces = {generate_nonce() for _ in range(200)}
    assert len(nonces) == 200
    assert all(len(nonce) == 20 and nonce.isascii() and nonce.isalnum() for nonce in nonces)
    with pytest.raises(ValueError):
        generate_nonce(7)


def test_the_memory_store_forgets_expired_nonces_as_it_issues() -> None:
    clock = Clock(NOW)
    store = MemoryNonceStore(timedelta(minutes=1), clock=clock)
    for _ in range(5):
        store.issue()
    clock.now = NOW + timedelta(minutes=2)
    fresh = store.issue()
    assert len(store) == 1
    assert store.consume(fresh) and not store.consume(fresh)


def test_concurrent_consumers_spend_a_nonce_exactly_once() -> None:
    store = store_at()
    nonce = store.issue()
    results: list[bool] = []
    barrier = threading.Barrier(16)

    def consume() -> None:
        barrier.wait()
        results.append(store.consume(nonce))

    threads = [threading.Thread(target=consume) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1


# --- session tokens ---------------------------------------------------------------------


def test_a_session_token_round_trips_and_is_compact() -> None:
    token = issue_session(
        secret=SECRET, address=ADDRESS, chain_id=CHAIN_ID, now=NOW, ttl=timedelta(hours=2)
    )
    session = verify_session(token, NOW + timedelta(minutes=1), secret=SECRET)
    assert (session.address, session.chain_id) == (ADDRESS, CHAIN_ID)
    assert (session.issued_at, session.expires_at) == (NOW, NOW + timedelta(hours=2))
    assert len(token) == 126 and len(session.token_id) == 32
    other = issue_session(secret=SECRET, address=ADDRESS, chain_id=CHAIN_ID, now=NOW)
    assert verify_session(other, NOW, secret=SECRET).token_id != session.token_id


def test_session_expiry_edges() -> None:
    token = issue_session(
        secret=SECRET, address=ADDRESS, chain_id=CHAIN_ID, now=NOW, ttl=timedelta(minutes=5)
    )
    assert verify_session(token, NOW + timedelta(minutes=5, microseconds=-1), secret=SECRET)
    for when, reason in [
        (NOW + timedelta(minutes=5), SessionFailure.EXPIRED),
        (NOW - timedelta(seconds=1), SessionFailure.NOT_YET_VALID),
    ]:
        with pytest.raises(SessionError) as caught:
            verify_session(token, when, secret=SECRET)
        assert caught.value.reason == reason


def _token() -> str:
    return issue_session(secret=SECRET, address=ADDRESS, chain_id=CHAIN_ID, now=NOW)


def _flip_body_byte(token: str, index: int) -> str:
    body, tag = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=="))
    raw[index] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode() + "." + tag


def _non_canonical_tail(token: str) -> str:
    """The same bytes spelt differently: set an unused low bit of the tag's last character."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spelt = token[:-1] + alphabet[alphabet.index(token[-1]) + 1]
    tag = spelt.split(".")[1]
    assert base64.urlsafe_b64decode(tag + "=") == base64.urlsafe_b64decode(
        token.split(".")[1] + "="
    )
    return spelt


TAMPERED: list[tuple[str, Callable[[str], str], SessionFailure]] = [
    ("address byte", lambda t: _flip_body_byte(t, 5), SessionFailure.BAD_SIGNATURE),
    ("expiry byte", lambda t: _flip_body_byte(t, 44), SessionFailure.BAD_SIGNATURE),
    ("version byte", lambda t: _flip_body_byte(t, 0), SessionFailure.BAD_SIGNATURE),
    (
        "tag swapped",
        lambda t: t.split(".")[0] + "." + _token().split(".")[1],
        SessionFailure.BAD_SIGNATURE,
    ),
    ("truncated", lambda t: t[:-1], SessionFailure.MALFORMED),
    ("padded", lambda t: t + "=", SessionFailure.MALFORMED),
    ("extra part", lambda t: t + ".x", SessionFailure.MALFORMED),
    ("no tag", lambda t: t.split(".")[0], SessionFailure.MALFORMED),
    ("non-canonical tail", lambda t: _non_canonical_tail(t), SessionFailure.MALFORMED),
    ("space inside", lambda t: t[:10] + " " + t[11:], SessionFailure.MALFORMED),
    ("huge", lambda t: t * 3, SessionFailure.MALFORMED),
]


@pytest.mark.parametrize(
    ("tamper", "reason"), [case[1:] for case in TAMPERED], ids=[case[0] for case in TAMPERED]
)
def test_tampered_session_tokens_are_refused(
    tamper: Callable[[str], str], reason: SessionFailure
) -> None:
    with pytest.raises(SessionError) as caught:
        verify_session(tamper(_token()), NOW, secret=SECRET)
    assert caught.value.reason == reason


def test_a_token_from_another_secret_is_refused() -> None:
    with pytest.raises(SessionError) as caught:
        verify_session(_token(), NOW, secret=SECRET[::-1])
    assert caught.value.reason == SessionFailure.BAD_SIGNATURE


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.sampled_from([_token()[:n] for n in range(0, 126, 7)]))
def test_arbitrary_tokens_only_raise_session_error(token: str) -> None:
    with pytest.raises(SessionError):
        verify_session(token, NOW, secret=SECRET)


@pytest.mark.parametrize(
    "arguments",
    [
        {"secret": b"short"},
        {"address": ADDRESS.lower()},
        {"chain_id": 0},
        {"chain_id": 2**64},
        {"ttl": timedelta(milliseconds=500)},
        {"ttl": timedelta.max},
        {"now": datetime(2024, 5, 1)},
    ],
)
def test_issuing_with_bad_arguments_is_a_value_error(arguments: dict[str, Any]) -> None:
    base: dict[str, Any] = {"secret": SECRET, "address": ADDRESS, "chain_id": CHAIN_ID, "now": NOW}
    with pytest.raises(ValueError) as caught:
        issue_session(**(base | arguments))
    assert not isinstance(caught.value, SessionError)


def test_replace_keeps_validation() -> None:
    with pytest.raises(SiweError):
        replace(message(), nonce="short")


def test_the_uri_may_name_any_path_on_the_public_url_and_its_default_port() -> None:
    for uri in (f"https://{DOMAIN}/login", f"https://{DOMAIN.upper()}:443/a?b=c"):
        store = store_at()
        text, signature = signed(store, uri=uri)
        assert verify(text, signature, store, expected_uri=f"https://{DOMAIN}/").nonce


def test_an_http_relying_party_accepts_http_and_scheme_less_messages() -> None:
    """A platform served on plain http (development): wallets sign with ``http://`` or
    without a scheme (the domain still binds the message); before, only https passed."""
    for scheme in ("http", None):
        store = store_at()
        text, signature = signed(store, scheme=scheme, uri=f"http://{DOMAIN}:8000/")
        verified = verify(
            text,
            signature,
            store,
            expected_scheme="http",
            expected_uri=f"http://{DOMAIN}:8000",
        )
        assert verified.address == ADDRESS
