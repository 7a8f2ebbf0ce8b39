"""Where the auditor's logs and block times come from, in bounded block chunks.

Over JSON-RPC the logs are requested raw: web3's result formatters turn every field of
every log into rich objects, which costs more than decoding the events themselves. The
in-process eth-tester chain has no raw JSON-RPC, so it goes through web3 as usual.
"""

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from web3 import Web3
from web3.providers import JSONBaseProvider
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import RPCEndpoint

from oracle.chain.logs import block_ranges
from oracle.errors import ChainError
from oracle.events import as_int
from oracle.types import web3_address


def chunks_with_timestamps(
    w3: Web3, addresses: Sequence[str], from_block: int, to_block: int, chunk_size: int
) -> Iterator[tuple[list[Any], dict[int, int]]]:
    """Each chunk's logs (chain order) and the timestamps of the blocks they sit in.

    Over JSON-RPC the next chunk is fetched while the caller works on this one, so the
    node answers while the auditor decodes (two cores, two processes).
    """
    ranges = list(block_ranges(from_block, to_block, chunk_size))
    if isinstance(w3.provider, EthereumTesterProvider):  # in process: nothing to overlap
        for start, end in ranges:
            yield _fetch(w3, addresses, start, end)
        return
    with ThreadPoolExecutor(max_workers=1) as prefetcher:
        pending = [prefetcher.submit(_fetch, w3, addresses, *r) for r in ranges[:1]]
        for following in [*ranges[1:], None]:
            current = pending.pop().result()
            if following is not None:
                pending.append(prefetcher.submit(_fetch, w3, addresses, *following))
            yield current


def _fetch(
    w3: Web3, addresses: Sequence[str], start: int, end: int
) -> tuple[list[Any], dict[int, int]]:
    if isinstance(w3.provider, EthereumTesterProvider):
        checksummed = [web3_address(a) for a in addresses]
        logs: list[Any] = list(
            w3.eth.get_logs({"address": checksummed, "fromBlock": start, "toBlock": end})
        )
    else:
        logs = _raw_logs(w3, addresses, start, end)
    blocks = sorted({as_int(log["blockNumber"]) for log in logs})
    return logs, block_timestamps(w3, blocks)


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
