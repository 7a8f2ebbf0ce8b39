"""The embedded chain's head time, read without the chain lock, follows every new block."""

import threading

from oracle.chain import EmbeddedChain


def latest_block_time(chain: EmbeddedChain) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"])


def test_latest_timestamp_follows_mining_time_travel_and_transactions() -> None:
    with EmbeddedChain.open() as chain:
        assert chain.latest_timestamp == latest_block_time(chain)
        moved = chain.advance_time(3_600)
        assert chain.latest_timestamp == moved == latest_block_time(chain)
        chain.fund(chain.dev_accounts[1], 1)  # auto-mined transaction
        assert chain.latest_timestamp == latest_block_time(chain)
        chain.mine(2)
        assert chain.latest_timestamp == latest_block_time(chain)


def test_latest_timestamp_does_not_wait_for_the_chain_lock() -> None:
    with EmbeddedChain.open() as chain:
        expected = latest_block_time(chain)
        held, release = threading.Event(), threading.Event()

        def hold_the_lock() -> None:
            with chain._lock:  # as a block being mined would
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold_the_lock)
        holder.start()
        held.wait(10)
        answers: list[int] = []
        reader = threading.Thread(target=lambda: answers.append(chain.latest_timestamp))
        reader.start()
        reader.join(timeout=2)
        release.set()
        holder.join()
        assert answers == [expected]
