"""Where the auditor's logs come from, in bounded block chunks.

Over JSON-RPC the logs are requested raw: web3's result formatters turn every field of
every log into rich objects, which costs more than decoding the events themselves. The
in-process eth-tester chain has no raw JSON-RPC, so it goes through web3 as usual.
"""

from collections.abc import Iterator, Sequence
from typing import Any

from web3 import Web3
from web3.providers import JSONBaseProvider
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import RPCEndpoint

from oracle.chain.logs import block_ranges, iter_log_chunks
from oracle.errors import ChainError
from oracle.types import web3_address


def log_chunks(
    w3: Web3, addresses: Sequence[str], from_block: int, to_block: int, chunk_size: int
) -> Iterator[list[Any]]:
    """Each chunk's logs, in chain order (raw JSON dicts over RPC, web3 logs otherwise)."""
    if isinstance(w3.provider, EthereumTesterProvider):
        checksummed = [web3_address(a) for a in addresses]
        for chunk in iter_log_chunks(w3, checksummed, from_block, to_block, chunk_size=chunk_size):
            yield list(chunk.logs)
        return
    for start, end in block_ranges(from_block, to_block, chunk_size):
        yield _raw_logs(w3, addresses, start, end)


def _raw_logs(w3: Web3, addresses: Sequence[str], start: int, end: int) -> list[Any]:
    params = {"address": list(addresses), "fromBlock": hex(start), "toBlock": hex(end)}
    response = w3.provider.make_request(RPCEndpoint("eth_getLogs"), [params])
    if "error" in response:
        raise ChainError(f"eth_getLogs {start}..{end} failed: {response['error']}")
    result: list[Any] = response["result"]
    return result


def block_timestamps(w3: Web3, numbers: Sequence[int]) -> dict[int, int]:
    """Timestamps of the given blocks: one JSON-RPC batch over HTTP, calls otherwise."""
    if not numbers:
        return {}
    if not isinstance(w3.provider, JSONBaseProvider):  # eth-tester: no JSON-RPC batches
        return {n: int(w3.eth.get_block(n)["timestamp"]) for n in numbers}
    requests = [(RPCEndpoint("eth_getBlockByNumber"), [hex(n), False]) for n in numbers]
    responses = w3.provider.make_batch_request(requests)
    if not isinstance(responses, list):
        raise ChainError(f"eth_getBlockByNumber batch failed: {responses.get('error')}")
    stamps = {}
    for number, response in zip(numbers, responses, strict=True):
        if "error" in response or not response.get("result"):
            raise ChainError(f"block {number} unavailable: {response.get('error')}")
        stamps[number] = int(response["result"]["timestamp"], 16)
    return stamps
