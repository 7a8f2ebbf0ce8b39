"""The end-to-end chain scenario on both backends: the embedded chain and a JSON-RPC node.

One market day runs per backend (module fixture); the tests then check its outcome, run
the auditor as a user would (the CLI against the node), and try to cheat: each attempt
must revert with the right custom error, or be reported by the audit.
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from web3 import Web3
from web3.exceptions import ContractLogicError

from flexledger import scenario
from flexledger.scenario import ScenarioResult
from flexledger.settings import ChainKind, Settings
from oracle.audit import Auditor
from oracle.bindings import ContractSuite
from oracle.chain import connect
from oracle.eip712 import Order, sign_order
from oracle.errors import ContractRevertError
from oracle.identity import Keystore, Signer
from oracle.manifest import DeployedContract, Manifest
from oracle.settlement_math import unpack_attested_records
from oracle.types import Address, ChainId, Direction, Role, Side
from tests.devnode import devnode

PASSWORD = "e2e-test-password"
ROGUE_EMITTER = "0x601680600b6000396000f33660409003806040600037602035600035826000a200"


@dataclass
class Run:
    settings: Settings
    result: ScenarioResult
    suite: ContractSuite
    signers: dict[str, Signer]
    rpc_url: str | None = None


def _settings(tmp: Path, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp,
        keystore_password=PASSWORD,
        keystore_scrypt_n=1024,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module", params=["embedded", "devnode"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "embedded":
        yield from _opened(_settings(tmp), None, None)
        return
    with devnode() as node:
        settings = _settings(tmp, chain=ChainKind.RPC, rpc_url=node.url, confirmations=1)
        yield from _opened(settings, node.url, bytes.fromhex(node.private_keys[0][2:]))


def _opened(settings: Settings, rpc_url: str | None, funder_key: bytes | None) -> Iterator[Run]:
    result = scenario.run(settings, fresh=True, funder_key=funder_key)
    keystore = Keystore(settings.keystore_dir, scrypt_n=1024)
    signers = {name: keystore.load(name, PASSWORD) for name in keystore.names()}
    with connect(settings) as connection:
        suite = ContractSuite(connection.w3, Manifest.read(settings.resolved_manifest_path))
        yield Run(settings, result, suite, signers, rpc_url)


def revert_of(suite: ContractSuite, call: object, sender: str) -> ContractRevertError:
    with pytest.raises(ContractLogicError) as raised:
        call.call({"from": sender})  # type: ignore[attr-defined]
    return suite.revert_of(raised.value)


def test_market_day_settles_with_the_documented_numbers(run: Run) -> None:
    rows = {row["trade_id"]: row for row in run.result.settlements}
    assert len(rows) == 4
    under = rows[4]  # the community battery delivers 60 % of 20 kW over one hour
    assert (under["traded_wh"], under["delivered_wh"]) == (20_000, 12_000)
    assert under["payment_cents"] == 22_000 * 12_000 // 1_000_000
    assert under["penalty_cents"] == 22_000 * 15_000 // 10_000 * 8_000 // 1_000_000
    assert all(row["delivered_wh"] == row["traded_wh"] for row in list(rows.values())[:3])


def test_audit_is_clean(run: Run) -> None:
    audit = run.result.audit
    assert audit.clean, audit.mismatches
    assert (audit.trades, audit.settlements, audit.orders_verified) == (4, 4, 8)
    assert audit.finalised == 4 and audit.disputed == 1


def test_audit_cli_against_the_node(run: Run) -> None:
    if run.rpc_url is None:
        pytest.skip("the embedded chain has no JSON-RPC endpoint; the CLI audit needs one")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "flexledger.cli",
            "audit",
            "--rpc",
            run.rpc_url,
            "--manifest",
            str(run.settings.resolved_manifest_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "FLEXLEDGER_DATA_DIR": "/nonexistent"},
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["clean"] and report["settlements"] == 4


def test_audit_cli_exit_code_2_when_it_cannot_run(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "flexledger.cli",
            "audit",
            "--rpc",
            "http://127.0.0.1:9",
            "--manifest",
            str(tmp_path / "missing.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert "missing.json" in completed.stderr


def test_attestation_from_a_non_oracle_reverts(run: Run) -> None:
    suite, signers = run.suite, run.signers
    fsp = signers["fsp-alpha"].address
    call = suite.contract("FlexSettlement").functions.attest((1, 10, 5))
    error = revert_of(suite, call, fsp)
    assert error.name == "MissingRole"
    assert error.args_by_name == {"account": fsp, "role": int(Role.ORACLE)}


def _fresh_sell_order(run: Run, maker: str, nonce: int) -> Order:
    """A new, well-formed offer by ``maker`` for one of its assets, valid for a day."""
    suite = run.suite
    registered = (
        suite.contract("GridRegistry")
        .events.AssetRegistered()
        .get_logs(from_block=suite.manifest.first_block)
    )
    asset = next(
        log["args"] for log in registered if log["args"]["owner"] == run.signers[maker].address
    )
    now = int(suite.w3.eth.get_block("latest")["timestamp"])
    slot = (now // 900 + 8) * 900
    node = suite.read("GridRegistry", "asset", asset["asset"])[1]
    return Order(
        Address(run.signers[maker].address),
        Side.SELL,
        Direction.UP,
        node,
        asset["asset"],
        slot,
        4,
        1_000,
        1_000,
        False,
        10_000,
        nonce,
        slot,
    )


def _place(run: Run, order: Order, signature: bytes, sender: str) -> object:
    return run.suite.contract("FlexMarket").functions.placeOrder(order.as_tuple(), signature)


def test_forged_signature_reverts(run: Run) -> None:
    order = _fresh_sell_order(run, "fsp-alpha", 90_001)
    suite = run.suite
    forged = sign_order(
        order, run.signers["fsp-beta"].private_key, ChainId(suite.chain_id), suite.market_address
    )
    error = revert_of(
        suite, _place(run, order, forged, "fsp-alpha"), run.signers["fsp-alpha"].address
    )
    assert error.name == "BadSignature"
    assert error.args_by_name["maker"] == order.maker
    assert error.args_by_name["signer"] == run.signers["fsp-beta"].address


def test_signature_for_another_chain_reverts(run: Run) -> None:
    order = _fresh_sell_order(run, "fsp-alpha", 90_002)
    suite = run.suite
    other_chain = sign_order(
        order, run.signers["fsp-alpha"].private_key, ChainId(246), suite.market_address
    )
    error = revert_of(suite, _place(run, order, other_chain, "fsp-alpha"), order.maker)
    assert error.name == "BadSignature"
    assert error.args_by_name["signer"] != order.maker


def test_replayed_order_reverts(run: Run) -> None:
    suite, alpha = run.suite, run.signers["fsp-alpha"]
    order = _fresh_sell_order(run, "fsp-alpha", 90_003)
    signature = sign_order(order, alpha.private_key, ChainId(suite.chain_id), suite.market_address)
    call = _place(run, order, signature, "fsp-alpha")
    receipt = _send(
        suite.w3,
        alpha.account,
        suite.chain_id,
        {"to": suite.market_address, "data": call._encode_transaction_data()},
    )  # type: ignore[attr-defined]
    assert receipt["status"] == 1
    error = revert_of(suite, call, alpha.address)
    assert error.name == "NonceAlreadyUsed"
    assert error.args_by_name == {"maker": alpha.address, "nonce": 90_003}


def test_audit_reports_a_settlement_that_disagrees_with_its_inputs(run: Run) -> None:
    suite, signers = run.suite, run.signers
    w3: Web3 = suite.w3
    operator = signers["market-operator"].account
    rogue = _deploy_rogue(w3, operator, suite.chain_id)
    settlement_abi = suite.contract("FlexSettlement")
    # attestBatch logs one packed SettlementsAttested per batch: raise one payment tenfold
    batch = dict(
        settlement_abi.events.SettlementsAttested().get_logs(from_block=suite.manifest.first_block)[
            0
        ]["args"]
    )
    records = list(batch["records"])
    index, real = next(
        (i, r) for i, r in enumerate(unpack_attested_records(records)) if r["paymentCents"]
    )
    records[2 * index + 1] += real["paymentCents"] * 9 << 96  # the payment field of its second word
    tampered = {**batch, "records": records}
    # A malformed log (an unindexed event emitted with a topic) is reported, not fatal.
    _emit(
        w3,
        operator,
        suite.chain_id,
        rogue,
        settlement_abi.events.PenaltyFactorChanged,
        {"previousBps": 0, "penaltyFactorBps": 15_000, "changedBy": operator.address},
    )
    _emit(w3, operator, suite.chain_id, rogue, settlement_abi.events.SettlementsAttested, tampered)
    contracts = dict(suite.manifest.contracts)
    contracts["FlexSettlement"] = DeployedContract(
        "FlexSettlement", Address(rogue), suite.manifest.first_block, "0x", "", ""
    )
    lying = Manifest(
        suite.manifest.chain_id,
        contracts,
        suite.manifest.deployer,
        parameters=suite.manifest.parameters,
    )
    report = Auditor(w3, lying).run()
    checks = {(m.subject, m.check) for m in report.mismatches}
    assert (f"settlement {real['tradeId']}", "paymentCents") in checks
    assert ("log", "decodes against the ABI") in checks
    assert ("contract FlexSettlement", "runtime code matches the artifact") in checks
    if run.rpc_url is not None:  # and the CLI says so with exit code 1
        lying.write(run.settings.data_dir / "lying.json")
        completed = _audit_cli(run.rpc_url, run.settings.data_dir / "lying.json")
        assert completed.returncode == 1, completed.stderr
        assert not json.loads(completed.stdout)["clean"]


def _audit_cli(rpc_url: str, manifest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "flexledger.cli",
            "audit",
            "--rpc",
            rpc_url,
            "--manifest",
            str(manifest),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _send(w3: Web3, account: object, chain_id: int, fields: dict[str, object]) -> dict[str, object]:
    tx = {
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "chainId": chain_id,  # type: ignore[attr-defined]
        "gas": 300_000,
        "maxFeePerGas": 2 * int(w3.eth.get_block("latest")["baseFeePerGas"]) + 10**9,
        "maxPriorityFeePerGas": 10**9,
        **fields,
    }
    tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)  # type: ignore[attr-defined]
    return dict(w3.eth.wait_for_transaction_receipt(tx_hash))


def _deploy_rogue(w3: Web3, account: object, chain_id: int) -> str:
    return str(_send(w3, account, chain_id, {"data": ROGUE_EMITTER})["contractAddress"])


def _emit(
    w3: Web3, account: object, chain_id: int, rogue: str, event: object, args: dict[str, object]
) -> None:
    abi = event.abi  # type: ignore[attr-defined]
    from eth_abi import encode
    from eth_utils import event_abi_to_log_topic

    from oracle.reverts import abi_type

    indexed = [i for i in abi["inputs"] if i["indexed"]]
    plain = [i for i in abi["inputs"] if not i["indexed"]]
    topic1 = encode([abi_type(indexed[0])], [args[indexed[0]["name"]]]) if indexed else b"\x00" * 32
    data = encode([abi_type(i) for i in plain], [args[i["name"]] for i in plain])
    payload = event_abi_to_log_topic(abi) + topic1 + data
    _send(w3, account, chain_id, {"to": rogue, "data": "0x" + payload.hex()})
