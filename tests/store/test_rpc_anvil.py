"""JSON-RPC ingest against a real local chain: anvil + an ERC-20 compiled with solc (npm).

The sample case's USDT flows are replayed as real transactions (each wallet impersonated, each
block stamped with the sample's time), ingested over RPC, and followed: the result must equal
the file export's. Skipped, with the reason, when anvil or solcjs is not installed (``.ci/run``
installs both from the npm registry into ``.ci/node``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, SAMPLE, SAMPLE_DATA
from tracer.analysis.follow import follow
from tracer.core.errors import UsageError
from tracer.sources.labels import read_labels
from tracer.store.rpc import ChunkPolicy, read_checkpoints, sync_token, web3_calls
from tracer.store.workspace import Workspace


def _bin(name: str) -> str | None:
    for d in (
        os.environ.get("TRACER_NODE_BIN"),
        str(ROOT / ".ci" / "node" / "node_modules" / ".bin"),
    ):
        if d and (Path(d) / name).exists():
            return str(Path(d) / name)
    return shutil.which(name)


ANVIL, SOLCJS = _bin("anvil"), _bin("solcjs")
pytestmark = pytest.mark.skipif(
    ANVIL is None or SOLCJS is None,
    reason="anvil/solcjs not installed (npm install @foundry-rs/anvil solc, as .ci/run does)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_anvil(*args: str):  # type: ignore[no-untyped-def]
    """An anvil node on a free port (``args`` added to its command line), once it answers:
    ``(process, Web3)``; the caller terminates the process."""
    from web3 import Web3

    port = _free_port()
    proc = subprocess.Popen([ANVIL, "--port", str(port), "--silent", *args],  # type: ignore[list-item]
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}"))
    for _ in range(100):
        try:
            w3.eth.block_number  # noqa: B018
            break
        except Exception:
            time.sleep(0.1)
    return proc, w3


def _sample_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("sample_generate", SAMPLE / "generate.py")
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def _raw(amount: str) -> int:
    whole, _, frac = amount.partition(".")
    return int(whole) * 10**6 + int((frac or "0").ljust(6, "0"))


def evm(name: str) -> str:
    """The EVM stand-in of a sample-case wallet: the same 20 bytes as its Tron address."""
    from web3 import Web3

    return Web3.to_checksum_address(_sample_module().addr_hex(name)[2:])


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]

    out = tmp_path_factory.mktemp("solc")
    subprocess.run(
        [SOLCJS, "--bin", "--abi", "-o", str(out), str(FIXTURES / "rpc" / "TestToken.sol")],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    abi = json.loads(next(out.glob("*TestToken.abi")).read_text())
    bytecode = "0x" + next(out.glob("*TestToken.bin")).read_text().strip()
    proc, w3 = start_anvil("--timestamp", "1700000000", "--no-mining")
    url = w3.provider.endpoint_uri
    deployer = w3.eth.accounts[0]

    def mine(ts: int) -> None:
        w3.provider.make_request("evm_setNextBlockTimestamp", [ts])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    t0 = 1_700_000_000 + 10
    tx = w3.eth.contract(abi=abi, bytecode=bytecode).constructor().transact({"from": deployer})
    mine(t0)
    token = w3.eth.contract(address=w3.eth.get_transaction_receipt(tx)["contractAddress"], abi=abi)
    sample = _sample_module()
    flows = sorted(sample.FLOWS, key=lambda f: f[0])
    senders = {f[1] for f in flows}
    for name in senders:
        w3.provider.make_request("anvil_impersonateAccount", [evm(name)])  # type: ignore[arg-type]
        w3.provider.make_request("anvil_setBalance", [evm(name), hex(10**20)])  # type: ignore[arg-type]
    # wallets that send more than they received (victims, the OTC customer) hold prior funds in
    # the file export; here they are minted up front: the same clean balance, earlier
    balance: dict[str, int] = {}
    minted: dict[str, int] = {}
    for _h, src, dst, amount in flows:
        v = _raw(amount)
        balance[src] = balance.get(src, 0) - v
        minted[src] = max(minted.get(src, 0), -balance[src])
        balance[dst] = balance.get(dst, 0) + v
    for name, v in sorted(minted.items()):
        if v == 0:
            continue
        token.functions.mint(evm(name), v).transact({"from": deployer})
    mine(t0 + 1)
    for hours, src, dst, amount in flows:
        token.functions.transfer(evm(dst), _raw(amount)).transact(
            {"from": evm(src), "gas": 100_000}
        )
        mine(int(sample.T0.timestamp() + hours * 3600))
    # native ETH: one funder tops up four fresh wallets; a fifth payment reverts (to the token,
    # which has no payable fallback) and must be skipped as failed
    funder = w3.eth.accounts[1]
    fresh = [w3.to_checksum_address(f"0x{0xF00 + i:040x}") for i in range(4)]
    for w in fresh:
        w3.eth.send_transaction({"from": funder, "to": w, "value": 10**16})
    w3.eth.send_transaction({"from": funder, "to": token.address, "value": 1, "gas": 100_000})
    mine(int(sample.T0.timestamp() + 200 * 3600))
    yield {"url": url, "token": token.address, "w3": w3, "head": w3.eth.block_number, "abi": abi,
           "funder": funder, "fresh": fresh}  # fmt: skip
    proc.terminate()
    proc.wait(timeout=10)


def _labels_evm(tmp: Path) -> Path:
    """The sample labels with each wallet's EVM stand-in address."""
    sample = _sample_module()
    rows = ["address,name,category,chain"]
    rows += [f"{evm(n)},{label},{cat},ethereum" for n, label, cat in sample.LABELS]
    p = tmp / "labels_evm.csv"
    p.write_text("\n".join(rows) + "\n")
    return p


def _sync(ws: Workspace, node: dict, **kw):  # type: ignore[no-untyped-def]
    _w3, get_logs, block_ts, _head = web3_calls(node["url"])
    args = {
        "token": node["token"], "chain": "ethereum", "symbol": "USDT", "decimals": 6,
        "start": 0, "end": node["head"], "get_logs": get_logs, "block_ts": block_ts,
    }  # fmt: skip
    args.update(kw)
    return sync_token(ws, **args)


def test_rpc_ingest_gives_the_file_export_follow(chain: dict, tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    s = _sync(ws, chain)
    assert s.logs == s.loaded > 20 and s.duplicate == 0
    ws.add_labels([read_labels(_labels_evm(tmp_path))])
    rpc = follow(Workspace.open(tmp_path / "ws"), [evm("scam")])
    file_ws, _ = Workspace.in_memory(SAMPLE_DATA, [read_labels(SAMPLE / "labels.csv")])
    ref = follow(file_ws, [_sample_module().addr("scam")])
    assert rpc.traced_total == pytest.approx(ref.traced_total)
    assert rpc.reached["amount"].to_list() == pytest.approx(ref.reached["amount"].to_list())
    assert rpc.reached["min_hops"].to_list() == ref.reached["min_hops"].to_list()
    assert rpc.reached["name"].to_list() == ref.reached["name"].to_list()
    # the same timestamps: first arrivals agree to the second
    assert rpc.reached["first_ts"].to_list() == ref.reached["first_ts"].to_list()
    # re-running changes nothing (resumes after the checkpoint: nothing left to fetch)
    again = _sync(ws, chain)
    assert again.resumed_from == chain["head"] + 1 and again.logs == 0


def test_killed_run_resumes_without_gaps_or_duplicates(chain: dict, tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws", create=True)
    calls = {"n": 0}

    def die_after_two(blocks: int, logs: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    policy = ChunkPolicy(initial=4, maximum=4, sparse=0)
    with pytest.raises(KeyboardInterrupt):
        _sync(ws, chain, policy=policy, flush_logs=1, on_chunk=die_after_two)
    mid = read_checkpoints(ws.path)[f"ethereum:{chain['token'].lower()}"]
    assert 0 < mid < chain["head"]
    rest = _sync(ws, chain, policy=policy, flush_logs=1)
    assert rest.resumed_from == mid + 1
    full = Workspace.open(tmp_path / "full", create=True)
    _sync(full, chain)
    assert Workspace.open(ws.path).transfers().equals(Workspace.open(full.path).transfers())


def test_provider_limit_shrinks_the_chunk(chain: dict, tmp_path: Path) -> None:
    _w3, get_logs, _block_ts, _head = web3_calls(chain["url"])
    spans = []

    def capped(params: dict) -> list:
        a, b = int(params["fromBlock"], 16), int(params["toBlock"], 16)
        spans.append(b - a + 1)
        logs = get_logs(params)
        if len(logs) > 12:
            raise ValueError({"code": -32005, "message": "query returned more than 12 results"})
        return logs

    ws = Workspace.open(tmp_path / "ws", create=True)
    s = _sync(ws, chain, get_logs=capped)
    assert spans[0] > chain["head"] and min(spans) < spans[0]
    assert s.loaded == s.logs and ws.transfers().height == s.logs


def test_native_transfers_feed_the_gas_funder_rule(chain: dict, tmp_path: Path) -> None:
    from tracer.analysis.cluster import cluster
    from tracer.store.rpc import native_calls, sync_native

    ws = Workspace.open(tmp_path / "ws", create=True)
    get_block, get_receipts = native_calls(chain["w3"])
    s = sync_native(ws, get_block=get_block, get_receipts=get_receipts, chain="ethereum",
                    start=0, end=chain["head"])  # fmt: skip
    t = Workspace.open(ws.path).transfers()
    assert s.logs == 5 and s.loaded == 4  # the reverted payment is read, then skipped
    assert t["token"].null_count() == t.height == 4 and set(t["asset"]) == {"ETH"}
    fresh = {a.lower() for a in chain["fresh"]}
    assert set(t["dst"]) == fresh
    res = cluster(Workspace.open(ws.path), ("gas-funder",))
    assert set(res.entities["address"].str.to_lowercase()) == fresh
    again = sync_native(ws, get_block=get_block, get_receipts=get_receipts, chain="ethereum",
                        start=0, end=chain["head"])  # fmt: skip
    assert again.resumed_from == chain["head"] + 1 and again.loaded == 0


def test_follow_head_keeps_a_reorg_margin(chain: dict, tmp_path: Path) -> None:
    from tracer.store.rpc import follow_head

    w3 = chain["w3"]
    token = w3.eth.contract(address=chain["token"], abi=chain["abi"])
    *_, head = web3_calls(chain["url"])
    ws = Workspace.open(tmp_path / "ws", create=True)
    synced: list[int] = []

    def one_round(end: int) -> None:
        _sync(ws, chain, end=end)
        synced.append(end)

    def new_blocks(_seconds: float) -> None:  # the chain grows between polls
        me = w3.eth.accounts[0]
        for _ in range(3):
            token.functions.mint(me, 1).transact({"from": me})
            w3.provider.make_request("evm_mine", [])

    rounds = follow_head(one_round, head, margin=2, polls=3, interval=0, sleep=new_blocks)
    assert rounds == 3 and synced == sorted(synced) and len(set(synced)) == 3
    assert synced[-1] == head() - 2  # never closer to the head than the margin
    key = f"ethereum:{chain['token'].lower()}"
    assert read_checkpoints(ws.path)[key] == synced[-1]
    t = Workspace.open(ws.path).transfers()
    assert t["block"].max() <= synced[-1]
    assert t.unique(["tx_hash", "seq"]).height == t.height  # nothing twice


def test_cli_ingest_rpc_with_native_and_resume(chain: dict, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tracer.cli import cli

    ws = str(tmp_path / "ws")
    args = ["ingest-rpc", "-w", ws, "--url", chain["url"], "--token", chain["token"], "--native",
            "--to-block", str(chain["head"])]  # fmt: skip
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "USDT" in r.output and "native" in r.output  # symbol read from the contract
    t = Workspace.open(ws).transfers()
    assert set(t["asset"]) == {"USDT", "ETH"}
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and "resumed at block" in again.output
    assert Workspace.open(ws).transfers().height == t.height


def test_tron_node_addresses_become_base58(chain: dict, tmp_path: Path) -> None:
    """Tron's JSON-RPC is Ethereum-compatible for logs; --chain tron stores T... addresses."""
    ws = Workspace.open(tmp_path / "ws", create=True)
    _sync(ws, chain, chain="tron")
    t = Workspace.open(ws.path).transfers()
    assert set(t["chain"]) == {"tron"}
    assert t["dst"].str.starts_with("T").all() and t["token"].str.starts_with("T").all()
    # the sample's names map to the same 20 bytes: the scam wallet is its Tron address again
    assert _sample_module().addr("scam") in set(t["src"])


def test_sync_rpc_library_call_equals_the_cli(chain: dict, tmp_path: Path) -> None:
    """``sync_rpc`` is ``ingest-rpc`` without the CLI: same rows, progress through a callback
    (called per phase with its block count; the library draws nothing), and a resume."""
    import contextlib

    from click.testing import CliRunner

    from tracer.cli import cli
    from tracer.store.rpc import sync_rpc

    phases: list[tuple[str, int]] = []
    steps: list[tuple[int, int]] = []

    @contextlib.contextmanager
    def progress(label: str, total: int):  # type: ignore[no-untyped-def]
        phases.append((label, total))
        yield lambda blocks, records: steps.append((blocks, records))

    ws = Workspace.open(tmp_path / "lib", create=True)
    out = sync_rpc(ws, chain["url"], [chain["token"]], native=True, to_block=chain["head"],
                   progress=progress)  # fmt: skip
    assert [name for name, _ in out] == ["USDT", "native"]
    assert phases == [("USDT blocks", chain["head"] + 1), ("native blocks", chain["head"] + 1)]
    assert sum(b for b, _ in steps) == 2 * (chain["head"] + 1)
    assert sum(r for _, r in steps) == out[0][1].logs
    cli_ws = str(tmp_path / "cli")
    r = CliRunner().invoke(cli, ["ingest-rpc", "-w", cli_ws, "--url", chain["url"], "--token",
                                 chain["token"], "--native", "--to-block", str(chain["head"])])
    assert r.exit_code == 0, r.output
    key = ["chain", "tx_hash", "seq", "token"]
    lib_rows = Workspace.open(tmp_path / "lib").transfers().sort(key)
    assert lib_rows.equals(Workspace.open(cli_ws).transfers().sort(key))
    again = sync_rpc(Workspace.open(tmp_path / "lib"), chain["url"], [chain["token"]],
                     to_block=chain["head"])  # fmt: skip
    assert again[0][1].logs == 0 and again[0][1].resumed_from == chain["head"] + 1
    with pytest.raises(UsageError, match="at least one --token"):
        sync_rpc(ws, chain["url"], [])
