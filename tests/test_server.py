"""``flexledger serve`` as its own process: it starts, answers, and stops cleanly on Ctrl-C.

Clean means: exit status 0, the group-commit writer and the pump stopped (no thread keeps
the process alive), and the embedded chain's file lock released, so that the next start
(or ``flexledger oracle run``) can open the same chain.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx

from flexledger.server import free_port
from flexledger.settings import Settings
from oracle.chain import EmbeddedChain

START_TIMEOUT_S = 240.0


def start_server(data_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FLEXLEDGER_DATA_DIR": str(data_dir),
        "FLEXLEDGER_API_PORT": str(port),
        "FLEXLEDGER_KEYSTORE_SCRYPT_N": "1024",
    }
    command = [sys.executable, "-m", "flexledger.cli", "serve", "--no-access-log"]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> dict[str, object]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            response = httpx.get(f"{url}/api/v1/chain", timeout=2)
            if response.status_code == 200:
                body: dict[str, object] = response.json()
                return body
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"serve did not answer in {START_TIMEOUT_S} s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError("serve did not stop within 60 s of Ctrl-C") from None


def test_serve_starts_answers_and_stops_cleanly_twice(tmp_path: Path) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "serve.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = start_server(data_dir, port, log)
    try:
        chain = wait_ready(first, url, log)
    finally:
        code = stop(first)
    assert code == 0, log.read_text()
    assert chain["chain_id"] == 1337
    again = start_server(data_dir, port, log)  # the same chain and contracts, reopened
    try:
        assert wait_ready(again, url, log)["contracts"] == chain["contracts"]
    finally:
        code = stop(again)
    assert code == 0, log.read_text()
    settings = Settings(data_dir=data_dir)
    with EmbeddedChain.open(settings.embedded_chain_path):  # the lock was released
        pass
