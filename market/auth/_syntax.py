"""The grammar EIP-4361 borrows: RFC 3986 (scheme, authority, URI, pchar) and RFC 3339.

Pure checks over ASCII text, written from the RFCs' ABNF. Every character class is spelled
out (no ``\\d`` or ``str.isalnum``, which accept non-ASCII digits and letters). The SIWE
module turns a failed check into a :class:`~market.auth.errors.SiweError` naming the field.
"""

import ipaddress
import re
from datetime import UTC, datetime, timedelta
from typing import Final

_UNRESERVED: Final = r"A-Za-z0-9\-._~"
_SUB_DELIMS: Final = r"!$&'()*+,;="
_PCT_ENCODED: Final = r"%[0-9A-Fa-f]{2}"
_PCHAR: Final = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT_ENCODED})"
_PATH_ABEMPTY: Final = rf"(?:/{_PCHAR}*)*"
_PATH_ROOTLESS: Final = rf"{_PCHAR}+{_PATH_ABEMPTY}"
_PATH_ABSOLUTE: Final = rf"/(?:{_PATH_ROOTLESS})?"
_QUERY: Final = rf"(?:{_PCHAR}|[/?])*"  # the fragment has the same grammar

SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_URI: Final = re.compile(
    rf"[A-Za-z][A-Za-z0-9+\-.]*:"
    rf"(?://(?P<authority>[^/?#]*){_PATH_ABEMPTY}|(?:{_PATH_ABSOLUTE}|{_PATH_ROOTLESS})?)"
    rf"(?:\?{_QUERY})?(?:#{_QUERY})?"
)
_USERINFO: Final = re.compile(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT_ENCODED})*")
_REG_NAME: Final = re.compile(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT_ENCODED})*")
_IPV6_CHARS: Final = re.compile(r"[0-9A-Fa-f:.]+")
_IPV_FUTURE: Final = re.compile(rf"[vV][0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+")
_PORT: Final = re.compile(r"[0-9]*")
PCHARS: Final = re.compile(rf"{_PCHAR}*")
#: EIP-4361 statement: ``*( reserved / unreserved / " " )``, so no line break and no '%'.
STATEMENT: Final = re.compile(rf"[{_UNRESERVED}:/?#\[\]@{_SUB_DELIMS} ]*")

_DATE_TIME: Final = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?:[Zz]|(?P<sign>[+-])(?P<offset_hour>[0-9]{2}):(?P<offset_minute>[0-9]{2}))"
)
_FIELDS: Final = ("year", "month", "day", "hour", "minute", "second")


def is_uri(text: str) -> bool:
    """Whether ``text`` is an RFC 3986 ``URI`` (absolute, with optional query and fragment)."""
    match = _URI.fullmatch(text)
    if match is None:
        return False
    authority = match.group("authority")
    return authority is None or is_authority(authority, allow_empty_host=True)


def is_authority(text: str, *, allow_empty_host: bool = False) -> bool:
    """Whether ``text`` is an RFC 3986 ``authority``: ``[ userinfo "@" ] host [ ":" port ]``."""
    userinfo, at_sign, host_port = text.rpartition("@")
    if at_sign and not _USERINFO.fullmatch(userinfo):
        return False
    if host_port.startswith("["):
        host, closing, port_part = host_port[1:].partition("]")
        return bool(closing) and _is_ip_literal(host) and _is_port_part(port_part)
    host, _, port = host_port.partition(":")  # a reg-name holds no ':'
    if not host and not allow_empty_host:
        return False
    return _REG_NAME.fullmatch(host) is not None and _PORT.fullmatch(port) is not None


def _is_port_part(text: str) -> bool:
    return text == "" or (text.startswith(":") and _PORT.fullmatch(text[1:]) is not None)


def _is_ip_literal(host: str) -> bool:
    """IPv6address or IPvFuture, as between the brackets of an IP-literal (no zone id)."""
    if _IPV_FUTURE.fullmatch(host):
        return True
    if not _IPV6_CHARS.fullmatch(host):
        return False
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def parse_date_time(text: str) -> datetime:
    """An RFC 3339 ``date-time`` as an aware UTC datetime; ValueError says what is wrong.

    Fractions finer than a microsecond are truncated; a leap second (``:60``) counts as the
    first instant of the next minute.
    """
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError("expected an RFC 3339 date-time such as 2021-09-30T16:25:24Z")
    year, month, day, hour, minute, second = (int(match.group(name)) for name in _FIELDS)
    leap = timedelta(seconds=1) if second == 60 else timedelta(0)
    microsecond = int((match.group("fraction") or "0")[:6].ljust(6, "0"))
    try:
        local = datetime(year, month, day, hour, minute, second - leap.seconds, microsecond)
        return (local - _offset(match) + leap).replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError("the date-time is outside the years 1 to 9999 in UTC") from None


def _offset(match: re.Match[str]) -> timedelta:
    """The ``time-offset`` of a matched date-time; 'Z' is zero."""
    if match.group("sign") is None:
        return timedelta(0)
    hours, minutes = int(match.group("offset_hour")), int(match.group("offset_minute"))
    if hours > 23 or minutes > 59:
        raise ValueError("the time offset must be between -23:59 and +23:59")
    offset = timedelta(hours=hours, minutes=minutes)
    return -offset if match.group("sign") == "-" else offset


def format_date_time(moment: datetime) -> str:
    """``moment`` in UTC with milliseconds and 'Z', as JavaScript's ``toISOString`` writes it.

    That is how dapps (and the siwe JavaScript library) fill in SIWE timestamps; the
    fraction is truncated, so a formatted "now" is never later than now.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a SIWE timestamp needs a timezone-aware datetime")
    utc = moment.astimezone(UTC)
    date = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
    time = f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond // 1000:03d}"
    return f"{date}T{time}Z"
