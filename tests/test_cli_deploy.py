"""`flexledger chain deploy` and `scenario` on a JSON-RPC chain (the Hardhat dev node), as a
user runs them: an unfunded deployer gets one line and exit 2, a funder pays the gas money."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from eth_account import Account
from web3 import Web3

from flexledger.settings import DEVELOPMENT_PASSWORD
from oracle.identity import Keystore
from tests.devnode import DevNode, devnode_fixture  # noqa: F401 - the fixture

ETHER = 10**18


def flexledger(
    node: DevNode, data_dir: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "FLEXLEDGER_DATA_DIR": str(data_dir),
        "FLEXLEDGER_KEYSTORE_SCRYPT_N": "1024",
        "FLEXLEDGER_CHAIN": "rpc",
        "FLEXLEDGER_RPC_URL": node.url,
        "COLUMNS": "80",  # the error line must stay one line even in a narrow terminal
        **env,
    }
    if "FLEXLEDGER_FUNDER_KEY" not in env:
        environment.pop("FLEXLEDGER_FUNDER_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "flexledger.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )


def _balance(node: DevNode, address: str) -> int:
    return int(Web3(Web3.HTTPProvider(node.url)).eth.get_balance(Web3.to_checksum_address(address)))


def _funder_keystore(node: DevNode, path: Path, account: int = 1) -> Path:
    """A V3 keystore of one of the node's funded accounts (each test spends another's)."""
    encrypted = Account.encrypt(node.private_keys[account], DEVELOPMENT_PASSWORD, iterations=1024)
    path.write_text(json.dumps(encrypted), encoding="utf-8")
    return path


def test_an_unfunded_deployer_gets_one_line_and_exit_2(
    devnode_fixture: DevNode,  # noqa: F811
    tmp_path: Path,
) -> None:
    result = flexledger(devnode_fixture, tmp_path, "chain", "deploy")
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    [address] = re.findall(r"0x[0-9a-fA-F]{40}", lines[0])
    assert _balance(devnode_fixture, address) == 0
    for words in ("deployer", "has 0 ETH", "needs", "--funder-keystore", "FLEXLEDGER_FUNDER_KEY"):
        assert words in lines[0], lines[0]
    assert not (tmp_path / "deployment.json").exists()


def test_a_funder_without_money_is_named(devnode_fixture: DevNode, tmp_path: Path) -> None:  # noqa: F811
    broke = Account.create()
    result = flexledger(
        devnode_fixture, tmp_path, "chain", "deploy", FLEXLEDGER_FUNDER_KEY=broke.key.hex()
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"funder {broke.address} has 0 ETH" in result.stderr


def test_with_a_funder_the_deployment_succeeds_and_says_which_address_is_which(
    devnode_fixture: DevNode,  # noqa: F811
    tmp_path: Path,
) -> None:
    keystore = _funder_keystore(devnode_fixture, tmp_path / "funder.json")
    data_dir = tmp_path / "data"
    result = flexledger(
        devnode_fixture,
        data_dir,
        "chain",
        "deploy",
        "--funder-keystore",
        str(keystore),
        COLUMNS="200",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((data_dir / "deployment.json").read_text())
    assert manifest["chain_id"] == devnode_fixture.chain_id
    out = result.stdout
    for name, entry in manifest["contracts"].items():
        assert name in out and entry["address"] in out
    assert "market operator" in out and "oracle" in out and "funder" in out
    assert manifest["deployer"] in out
    oracle_address = Keystore(data_dir / "keystore").address_of("oracle")
    assert oracle_address in out
    assert _balance(devnode_fixture, oracle_address) == ETHER  # the default FUND_WEI
    assert _balance(devnode_fixture, manifest["deployer"]) >= ETHER
    again = flexledger(devnode_fixture, data_dir, "chain", "deploy")
    assert again.returncode == 1 and "--force" in again.stderr  # a manifest exists


def test_the_scenario_runs_on_the_dev_node_with_a_funder(
    devnode_fixture: DevNode,  # noqa: F811
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    unfunded = flexledger(devnode_fixture, data_dir, "scenario")
    assert unfunded.returncode == 1 and "--funder-keystore" in unfunded.stderr
    assert len(unfunded.stderr.strip().splitlines()) == 1, unfunded.stderr
    keystore = _funder_keystore(devnode_fixture, tmp_path / "funder.json", account=2)
    result = flexledger(devnode_fixture, data_dir, "scenario", "--funder-keystore", str(keystore))
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "deployed the six contracts on chain 31337" in result.stdout
    assert "clean" in result.stdout
