"""Fault tests of the outbox: nothing lost, nothing applied twice.

* the process is killed (SIGKILL-like ``os._exit``) right after broadcasting, before it
  records the send or sees a receipt; a new process finishes the job;
* the process dies after persisting a signed transaction but before broadcasting it;
* the chain is unreachable for a while (a real TCP proxy in front of a JSON-RPC node is
  closed), then comes back;
* the same message is published twice, before and after it is confirmed.
"""

import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from oracle.outbox.models import MessageStatus, OutboxMessage, OutboxTransaction, TransactionStatus
from tests.databases import BACKENDS, POSTGRES_URL, engine_for
from tests.world import World, events_named, new_world, open_world, publish_nodes, world_settings


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A deployed world whose outbox lives in SQLite or in PostgreSQL."""
    engine_for(request.param, tmp_path).dispose()  # a clean schema
    database_url = POSTGRES_URL if request.param == "postgresql" else None
    world = new_world(world_settings(tmp_path, database_url=database_url))
    yield world
    world.close()


def statuses(world: World) -> dict[str, int]:
    return world.oracle.store.count_by_status()


def node_ids_on_chain(world: World) -> list[int]:
    return sorted(int(e["nodeId"]) for e in events_named(world, "GridRegistry", "NodeRegistered"))


def test_duplicate_publish_is_applied_once(world: World) -> None:
    publish_nodes(world, range(1, 4))
    publish_nodes(world, range(1, 4))  # the same keys and payloads again
    world.oracle.drain()
    publish_nodes(world, range(1, 4))  # and again after confirmation
    report = world.oracle.drain()
    assert report.sent_transactions == 0
    assert node_ids_on_chain(world) == [1, 2, 3]
    assert statuses(world)["confirmed"] == 3 + 3  # three setup grants, three nodes


KILL_AFTER_BROADCAST = """
import os, sys
from pathlib import Path
from oracle.outbox import dispatcher
from tests.world import open_world, publish_nodes, world_settings

def die(self, tx):  # the broadcast happened; the process dies before recording it
    os._exit(9)

dispatcher.Dispatcher.{hook} = die
world = open_world(world_settings(Path(sys.argv[1])))
publish_nodes(world, range(10, 20))
world.oracle.dispatcher.run_once()
raise SystemExit("the dispatcher should have been killed")
"""


@pytest.mark.parametrize("hook", ["_mark_sent", "_broadcast"])
def test_killed_between_send_and_receipt_loses_and_doubles_nothing(
    tmp_path: Path, hook: str
) -> None:
    new_world(world_settings(tmp_path)).close()
    script = textwrap.dedent(KILL_AFTER_BROADCAST).format(hook=hook)
    killed = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, timeout=120
    )
    assert killed.returncode == 9, killed.stderr.decode()[-2000:]

    world = open_world(world_settings(tmp_path))
    try:
        with Session(world.oracle.engine) as session:
            signed = session.exec(
                select(OutboxTransaction).where(OutboxTransaction.kind == "grid.node")
            ).all()
            assert [tx.status for tx in signed] == [TransactionStatus.SIGNED]
        # grid.node has no batch path: one transaction per message, and the first one
        # reached the chain only if the process died after broadcasting it.
        expected_on_chain = [10] if hook == "_mark_sent" else []
        assert node_ids_on_chain(world) == expected_on_chain

        report = world.oracle.drain()
        assert report.confirmed_messages == 10
        assert node_ids_on_chain(world) == list(range(10, 20))
        assert statuses(world)["pending"] == statuses(world)["in_flight"] == 0
    finally:
        world.close()


class Proxy:
    """A TCP proxy on 127.0.0.1 that can refuse connections, to take a node 'offline'."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.online = True
        self._stop = False
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def go_offline(self) -> None:
        """Refuse new connections and cut the kept-alive ones, as a dead node would."""
        self.online = False
        for connection in self._open:
            connection.close()
        self._open.clear()

    def _accept(self) -> None:
        while not self._stop:
            client, _ = self.listener.accept()
            if not self.online:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()

    def close(self) -> None:
        self._stop = True
        self.listener.close()


def test_chain_unreachable_then_back(tmp_path: Path) -> None:
    from flexledger.settings import ChainKind
    from tests.devnode import devnode
    from tests.world import grant_role

    with devnode() as node:
        proxy = Proxy(int(node.url.rsplit(":", 1)[1]))
        settings = world_settings(
            tmp_path, chain=ChainKind.RPC, rpc_url=f"http://127.0.0.1:{proxy.port}", rpc_timeout_s=2
        )
        world = _devnode_world(settings, node.private_keys[0])
        now = int(world.connection.w3.eth.get_block("latest")["timestamp"])
        proxy.go_offline()
        grant_role(world, world.accounts["fsp"].address, 4, key="while-down", now=now)
        publish_nodes(world, range(30, 35), prefix="down")
        report = world.oracle.dispatcher.run_once()
        assert report.chain_unavailable and report.sent_transactions == 0
        assert statuses(world)["pending"] == 6
        proxy.online = True
        _make_ready_now(world)
        world.oracle.drain()
        assert statuses(world)["pending"] == statuses(world)["in_flight"] == 0
        assert node_ids_on_chain(world) == list(range(30, 35))
        proxy.close()
        world.close()


def _devnode_world(settings: object, funder_key: str) -> World:
    from eth_account import Account

    from flexledger.wiring import oracle_service
    from oracle.chain import connect
    from oracle.deploy import deploy_suite
    from oracle.signers import AccountBook
    from tests.world import ETHER, accounts, grant_role

    connection = connect(settings)  # type: ignore[arg-type]
    named = accounts()
    funder = Account.from_key(funder_key)
    w3 = connection.w3
    for account in named.values():
        tx_hash = w3.eth.send_transaction(
            {"from": funder.address, "to": account.address, "value": 10 * ETHER}
        )
        w3.eth.wait_for_transaction_receipt(tx_hash)
    manifest = deploy_suite(connection, named["operator"])
    oracle = oracle_service(settings, connection, manifest, AccountBook(named.values()))  # type: ignore[arg-type]
    world = World(settings, connection, manifest, named, oracle)  # type: ignore[arg-type]
    grant_role(world, named["dso"].address, 2, key="setup-dso")
    grant_role(world, named["oracle"].address, 5, key="setup-oracle")
    world.oracle.drain()
    return world


def _make_ready_now(world: World) -> None:
    """Skip the back-off wait: the test does not need to sleep through it."""
    from oracle.outbox.models import utc_now

    with Session(world.oracle.engine) as session:
        for message in session.exec(
            select(OutboxMessage).where(OutboxMessage.status == MessageStatus.PENDING)
        ):
            message.next_attempt_at = utc_now()
            session.add(message)
        session.commit()


def test_a_message_the_contract_refuses_is_rejected_with_its_error(world: World) -> None:
    publish_nodes(world, range(40, 42))
    world.oracle.drain()
    dso = world.accounts["dso"].address
    world.oracle.publish(
        "grid.node", {"node_id": 40, "parent_id": 0, "operator": dso}, sender=dso, key="again-40"
    )
    publish_nodes(world, range(42, 43))
    _make_ready_now(world)
    world.oracle.drain(timeout_s=30)
    _make_ready_now(world)
    world.oracle.drain(timeout_s=30)
    refused = world.oracle.status_of("again-40")
    assert refused.status == MessageStatus.REJECTED
    assert refused.last_error is not None and "NodeExists" in refused.last_error
    assert node_ids_on_chain(world) == [40, 41, 42]


def test_a_sender_without_the_role_is_refused_at_publish(world: World) -> None:
    from oracle.errors import OracleValueError

    fsp = world.accounts["fsp"].address
    with pytest.raises(OracleValueError) as raised:
        world.oracle.publish(
            "grid.node",
            {"node_id": 50, "parent_id": 0, "operator": fsp},
            sender=fsp,
            key="fsp-node",
        )
    assert raised.value.field == "sender"
    assert world.oracle.store.get("fsp-node") is None


def test_a_write_counts_only_after_its_confirmations(tmp_path: Path) -> None:
    from flexledger.settings import ChainKind
    from tests.devnode import devnode

    with devnode() as node:
        settings = world_settings(tmp_path, chain=ChainKind.RPC, rpc_url=node.url, confirmations=3)
        world = _devnode_world_mined(settings, node)
        publish_nodes(world, range(60, 61))
        world.oracle.dispatcher.run_once()
        message = world.oracle.status_of("node-60")
        assert message.status == MessageStatus.IN_FLIGHT  # mined, but only one block deep
        node.rpc("evm_mine")
        world.oracle.dispatcher.run_once()
        assert world.oracle.status_of("node-60").status == MessageStatus.IN_FLIGHT
        node.rpc("evm_mine")
        world.oracle.dispatcher.run_once()
        assert world.oracle.status_of("node-60").status == MessageStatus.CONFIRMED
        world.close()


def _devnode_world_mined(settings: object, node: object) -> World:
    """A devnode world while a background thread mines blocks for the set-up's waits."""
    stop = threading.Event()

    def mine() -> None:
        while not stop.wait(0.2):
            node.rpc("evm_mine")  # type: ignore[attr-defined]

    miner = threading.Thread(target=mine, daemon=True)
    miner.start()
    try:
        return _devnode_world(settings, node.private_keys[0])  # type: ignore[attr-defined]
    finally:
        stop.set()
        miner.join()
