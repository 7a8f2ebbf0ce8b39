"""The API bounds Python's recursion limit (py_ecc raises it to 100,000, enough for json's C
parser to overflow the C stack); py-evm must still run the deepest call chain there is."""

import sys
import threading

from eth_tester import EthereumTester, PyEVMBackend
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

from market.api.limits import SAFE_RECURSION_LIMIT, bound_recursion

# A contract that CALLs itself with all its gas until the EVM's 1024-frame limit stops it.
RUNTIME = "6000600060006000600030" + "5a" + "f1" + "00"  # 5x PUSH1 0, ADDRESS, GAS, CALL, STOP
INIT = "600e600c600039600e6000f3" + RUNTIME  # CODECOPY the 14 runtime bytes and RETURN them
FULL_DEPTH_GAS = 83_447  # gas of the whole chain, 1024 frames (measured; fewer frames cost less)


def _run_deep_call(result: dict[str, object]) -> None:
    try:
        w3 = Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
        sender = w3.eth.accounts[0]
        deployed = w3.eth.send_transaction({"from": sender, "data": "0x" + INIT, "gas": 100_000})
        address = w3.eth.get_transaction_receipt(deployed)["contractAddress"]
        call = w3.eth.send_transaction({"from": sender, "to": address, "gas": 29_000_000})
        receipt = w3.eth.get_transaction_receipt(call)
        result.update(status=receipt["status"], gas=receipt["gasUsed"])
    except BaseException as error:  # reported to the test thread
        result["error"] = repr(error)


def test_a_1024_deep_evm_call_chain_runs_under_the_bounded_limit() -> None:
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)  # what py_ecc sets on import
    try:
        bound_recursion()
        assert sys.getrecursionlimit() == SAFE_RECURSION_LIMIT
        result: dict[str, object] = {}
        worker = threading.Thread(target=_run_deep_call, args=(result,))  # like a server thread
        worker.start()
        worker.join(timeout=120)
        assert "error" not in result, result
        assert result == {"status": 1, "gas": FULL_DEPTH_GAS}
    finally:
        sys.setrecursionlimit(previous)


def test_bounding_never_raises_a_lower_limit() -> None:
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(5_000)
    try:
        bound_recursion()
        assert sys.getrecursionlimit() == 5_000
    finally:
        sys.setrecursionlimit(previous)
