"""Two real local chains (two anvil processes, chain ids 1 and 8453), one workspace, one bridge.

On chain A a scam wallet pays a mule, which burns through a CCTP-shaped messenger (Circle's
``DepositForBurn`` event, domain 0); on chain B a relayer delivers the message (``MintAndWithdraw``
+ ``MessageReceived``, domain 6) and the recipient pays an exchange. Both chains are synced over
JSON-RPC (the library call for A, ``tracer ingest-rpc --bridges`` for B) into ONE workspace, with
the contracts registered through a user registry file (``TRACER_BRIDGES``); ``load_hops`` must
find the one exact bridge hop, with both chains' transaction hashes and transfer legs. Skipped,
with the reason, when anvil or solcjs is not installed (as the other anvil tests).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.conftest import FIXTURES
from tests.store.test_rpc_anvil import ANVIL, SOLCJS, start_anvil
from tracer.analysis.hops import load_hops
from tracer.store import conversions_table as ct
from tracer.store.workspace import Workspace

pytestmark = pytest.mark.skipif(
    ANVIL is None or SOLCJS is None,
    reason="anvil/solcjs not installed (npm install @foundry-rs/anvil solc, as .ci/run does)",
)
AMOUNT = 700 * 10**6


def _compiled(out: Path) -> dict[str, tuple[list, str]]:
    rpc = FIXTURES / "rpc"
    subprocess.run([SOLCJS, "--bin", "--abi", "--base-path", str(rpc), "-o", str(out),
                    str(rpc / "CctpShaped.sol")], check=True, capture_output=True, timeout=300)
    got = {}
    for name in ("BridgedUSD", "CctpShapedMessenger"):
        abi = json.loads(next(out.glob(f"*_{name}.abi")).read_text())
        got[name] = (abi, "0x" + next(out.glob(f"*_{name}.bin")).read_text().strip())
    return got


def _send(w3: Any, fn: Any, sender: str, ts: int) -> str:
    """One transaction mined in its own block at time ``ts``; returns its hash."""
    w3.provider.make_request("evm_setNextBlockTimestamp", [ts])
    tx = fn.transact({"from": sender, "gas": 500_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 1
    return "0x" + bytes(tx).hex().removeprefix("0x")


def _deploy(w3: Any, compiled: dict, name: str, *args: Any) -> Any:
    abi, code = compiled[name]
    tx = w3.eth.contract(abi=abi, bytecode=code).constructor(*args).transact(
        {"from": w3.eth.accounts[0]})  # fmt: skip
    address = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
    return w3.eth.contract(address=address, abi=abi)


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    compiled = _compiled(tmp_path_factory.mktemp("solc"))
    t_a = 1_700_000_000
    proc_a, a = start_anvil("--chain-id", "1", "--timestamp", str(t_a))
    proc_b, b = start_anvil("--chain-id", "8453", "--timestamp", str(t_a))
    try:
        token_a, token_b = _deploy(a, compiled, "BridgedUSD"), _deploy(b, compiled, "BridgedUSD")
        msg_a = _deploy(a, compiled, "CctpShapedMessenger", 0)
        msg_b = _deploy(b, compiled, "CctpShapedMessenger", 6)
        scam, mule, recipient, exchange = a.eth.accounts[1:5]
        relayer = b.eth.accounts[0]
        _send(a, token_a.functions.mint(scam, 1_000 * 10**6), a.eth.accounts[0], t_a + 100)
        peel = _send(a, token_a.functions.transfer(mule, AMOUNT), scam, t_a + 200)
        mint_to = bytes(12) + bytes.fromhex(recipient[2:])
        burn = _send(a, msg_a.functions.depositForBurn(AMOUNT, 6, mint_to, token_a.address),
                     mule, t_a + 300)  # fmt: skip
        deliver = msg_b.functions.receiveMessage(0, 0, token_b.address, recipient, AMOUNT)
        receive = _send(b, deliver, relayer, t_a + 1_200)
        cash_out = _send(b, token_b.functions.transfer(exchange, AMOUNT), recipient, t_a + 1_300)
        yield {
            "a": a, "b": b, "url_a": a.provider.endpoint_uri, "url_b": b.provider.endpoint_uri,
            "token_a": token_a.address, "token_b": token_b.address,
            "msg_a": msg_a.address, "msg_b": msg_b.address,
            "scam": scam, "mule": mule, "recipient": recipient, "exchange": exchange,
            "peel": peel, "burn": burn, "receive": receive, "cash_out": cash_out,
        }  # fmt: skip
    finally:
        for proc in (proc_a, proc_b):
            proc.terminate()
            proc.wait(timeout=10)


def _registry(tmp: Path, node: dict) -> Path:
    """The test's deployments, in the shipped registry's shape (CCTP V1 signatures)."""
    from importlib import resources

    shipped = (resources.files("tracer") / "data" / "bridges.csv").read_text().splitlines()
    header, rows = shipped[0], shipped[1:]
    sig = {r.split('"')[1].split("(")[0]: r.split(",", 6)[6] for r in rows if ",cctp-v1," in r}
    lines = [header]
    for chain, contract, domain in (("ethereum", node["msg_a"], 0), ("base", node["msg_b"], 6)):
        c = contract.lower()
        lines.append(f"{chain},{c},cctp-v1,source,domain-nonce,{domain},{sig['DepositForBurn']}")
        for ev in ("MintAndWithdraw", "MessageReceived"):
            lines.append(f"{chain},{c},cctp-v1,destination,domain-nonce,{domain},{sig[ev]}")
    p = tmp / "bridges-local.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_two_chains_one_workspace_one_exact_bridge_hop(
    chains: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from tracer.cli import cli
    from tracer.store.rpc import sync_rpc

    monkeypatch.setenv("TRACER_BRIDGES", str(_registry(tmp_path, chains)))
    ws_path = tmp_path / "ws"
    ws = Workspace.open(ws_path, create=True)
    out = sync_rpc(ws, chains["url_a"], [chains["token_a"]], chain="ethereum", bridges=True)
    names = [n for n, _ in out]
    assert names[0] == "USDC" and f"bridge:{chains['msg_a'].lower()}" in names
    r = CliRunner().invoke(cli, ["ingest-rpc", "-w", str(ws_path), "--url", chains["url_b"],
                                 "--chain", "base", "--token", chains["token_b"], "--bridges"])
    assert r.exit_code == 0, r.output

    ws = Workspace.open(ws_path)
    t = ws.transfers()
    assert set(t["chain"]) == {"ethereum", "base"}
    events = ct.read_table(ws, "bridge")
    assert events.group_by("chain").len().sort("chain").rows() == [("base", 2), ("ethereum", 1)]
    hops = load_hops(ws, kinds=["bridge"])
    (h,) = hops.to_dicts()
    assert (h["rule"], h["confidence"], h["inferred"]) == ("cctp-domain-nonce", 1.0, False)
    assert (h["chain_in"], h["tx_in"]) == ("ethereum", chains["burn"])
    assert (h["chain_out"], h["tx_out"]) == ("base", chains["receive"])
    assert h["address_in"] == chains["mule"].lower()
    assert h["address_out"] == chains["recipient"].lower()
    assert h["value_in"] == h["value_out"] == str(AMOUNT)
    assert (h["asset_in"], h["decimals_in"], h["asset_out"]) == ("USDC", 6, "USDC")
    # the legs are the mule's payment into the messenger (chain A) and the mint (chain B)
    leg_in = t.filter(pl.col("chain") == "ethereum", pl.col("tx_hash") == chains["burn"],
                      pl.col("seq").is_in(h["legs_in"]))  # fmt: skip
    assert leg_in.select("src", "dst", "value").rows() == [
        (chains["mule"].lower(), chains["msg_a"].lower(), str(AMOUNT))]
    leg_out = t.filter(pl.col("chain") == "base", pl.col("tx_hash") == chains["receive"],
                       pl.col("seq").is_in(h["legs_out"]))  # fmt: skip
    assert leg_out.select("src", "dst").rows() == [("0x" + "00" * 20,
                                                    chains["recipient"].lower())]
    assert h["ts_out"] > h["ts_in"]

    # re-syncing both chains changes nothing (checkpoints resume; rows de-duplicate)
    before = (ws_path / "manifest.json").read_text()
    sync_rpc(Workspace.open(ws_path), chains["url_a"], [chains["token_a"]], chain="ethereum",
             bridges=True)  # fmt: skip
    again = CliRunner().invoke(cli, ["ingest-rpc", "-w", str(ws_path), "--url",
                                     chains["url_b"], "--chain", "base", "--bridges"])  # fmt: skip
    assert again.exit_code == 0, again.output
    assert json.loads((ws_path / "manifest.json").read_text())["conversions"] == json.loads(
        before)["conversions"]  # fmt: skip
    assert load_hops(Workspace.open(ws_path), kinds=["bridge"]).height == 1
