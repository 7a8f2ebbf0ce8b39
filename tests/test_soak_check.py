"""The soak's verdict (benchmarks/soak.py ``check``): each kind of loss or doubling counts.

The soak itself is a benchmark (minutes, a server process killed twice); its checker is
plain data in, counts out, and tested here on small hand-made states.
"""

from collections import Counter

import pytest

from benchmarks.soak import GATE_LEAD_S, GATE_MARGIN_S, ChainState, DbState, check, next_open_slot
from oracle.types import SLOT_SECONDS

A, B, C, D = (f"0x{n:064x}" for n in (1, 2, 3, 4))


def agreeing() -> tuple[DbState, ChainState]:
    db = DbState(
        order_ids={A, B, C, D},
        trades={7: (A, B)},
        unrecorded_trades=Counter(),
        settled_trade_ids={7},
        outbox_open=0,
        confirmed_nonces=Counter({("0xoracle", 0): 1, ("0xoracle", 1): 1}),
    )
    chain = ChainState(
        committed_batches=[[A, B], [C]],
        placed_orders=[D],
        trades=[(7, A, B)],
        attested_trade_ids=[7],
    )
    return db, chain


def test_agreeing_states_have_no_mismatch() -> None:
    db, chain = agreeing()
    counts = check(db, chain)
    assert counts and not any(counts.values()), counts


@pytest.mark.parametrize(
    ("change", "mismatch"),
    [
        (lambda db, chain: chain.committed_batches.pop(), "orders_missing_on_chain"),
        (lambda db, chain: db.order_ids.discard(D), "orders_on_chain_not_in_db"),
        (lambda db, chain: chain.committed_batches.append([A]), "orders_on_chain_twice"),
        (lambda db, chain: chain.placed_orders.append(C), "orders_on_chain_twice"),
        (lambda db, chain: setattr(chain, "bad_batches", 1), "bad_batches"),
        (lambda db, chain: chain.trades.clear(), "trades_missing_on_chain"),
        (lambda db, chain: chain.trades.append((8, C, D)), "trades_on_chain_not_in_db"),
        (lambda db, chain: chain.trades.append((7, A, B)), "trades_recorded_twice"),
        (lambda db, chain: db.trades.update({7: (A, C)}), "trades_with_other_orders"),
        (lambda db, chain: db.unrecorded_trades.update(pending=1), "trades_pending_after_drain"),
        (lambda db, chain: chain.attested_trade_ids.clear(), "settlements_missing_on_chain"),
        (lambda db, chain: db.settled_trade_ids.clear(), "settlements_on_chain_not_in_db"),
        (lambda db, chain: chain.attested_trade_ids.append(7), "settlements_attested_twice"),
        (lambda db, chain: setattr(db, "outbox_open", 3), "outbox_open_after_drain"),
        (
            lambda db, chain: db.confirmed_nonces.update({("0xoracle", 1): 1}),
            "nonces_confirmed_twice",
        ),
    ],
)
def test_each_disagreement_is_counted(change: object, mismatch: str) -> None:
    db, chain = agreeing()
    change(db, chain)  # type: ignore[operator]
    counts = check(db, chain)
    assert counts[mismatch] >= 1, counts
    assert {name for name, n in counts.items() if n} == {mismatch}, counts


def test_orders_go_to_the_first_slot_whose_gate_is_comfortably_open() -> None:
    now = 1_800_000_000.0
    slot = next_open_slot(now)
    assert slot % SLOT_SECONDS == 0
    assert slot - GATE_LEAD_S >= now + GATE_MARGIN_S
    assert slot - SLOT_SECONDS - GATE_LEAD_S < now + GATE_MARGIN_S
