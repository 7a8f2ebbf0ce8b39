"""The ``flexledger`` command line as a user runs it: a subprocess with environment settings."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def flexledger(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FLEXLEDGER_DATA_DIR": str(data_dir),
        "FLEXLEDGER_KEYSTORE_SCRYPT_N": "1024",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "flexledger.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("cli")
    result = flexledger(data_dir, "chain", "deploy")
    assert result.returncode == 0, result.stderr
    return data_dir


def test_deploy_writes_a_manifest(deployed: Path) -> None:
    manifest = json.loads((deployed / "deployment.json").read_text())
    assert manifest["chain_id"] == 1337
    assert set(manifest["contracts"]) == {
        "DIDRegistry",
        "RoleRegistry",
        "GridRegistry",
        "FlexMarket",
        "FlexSettlement",
        "BaselineRegistry",
    }
    assert all(c["deploy_block"] > 0 and c["artifact_hash"] for c in manifest["contracts"].values())


def test_deploy_again_needs_force(deployed: Path) -> None:
    result = flexledger(deployed, "chain", "deploy")
    assert result.returncode == 1
    assert "--force" in result.stderr


def test_chain_info_survives_a_restart(deployed: Path) -> None:
    result = flexledger(deployed, "chain", "info")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["chain_id"] == 1337 and info["block"] >= 5
    assert set(info["contracts"]) >= {"FlexMarket", "FlexSettlement"}


def test_identity_new_prints_a_did(deployed: Path) -> None:
    result = flexledger(deployed, "identity", "new", "fsp-gamma")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("did:ethr:0x539:0x")
    again = flexledger(deployed, "identity", "new", "fsp-gamma")
    assert again.returncode == 1 and "fsp-gamma" in again.stderr


def test_oracle_status_and_audit_of_an_empty_market(deployed: Path) -> None:
    status = flexledger(deployed, "oracle", "status")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["pending"] == 0
    audit = flexledger(deployed, "audit")
    assert audit.returncode == 0, audit.stderr
    report = json.loads(audit.stdout)
    assert report["clean"] and report["settlements"] == 0


def test_oracle_run_once_drains_and_exits(deployed: Path) -> None:
    result = flexledger(deployed, "oracle", "run", "--once")
    assert result.returncode == 0, result.stderr


def test_production_refuses_the_development_password(tmp_path: Path) -> None:
    env_result = subprocess.run(
        [sys.executable, "-m", "flexledger.cli", "chain", "info"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "FLEXLEDGER_ENVIRONMENT": "production",
            "FLEXLEDGER_DATA_DIR": str(tmp_path),
        },
    )
    assert env_result.returncode != 0
    assert "FLEXLEDGER_KEYSTORE_PASSWORD" in env_result.stderr
