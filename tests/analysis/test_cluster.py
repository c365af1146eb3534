"""Clustering heuristics (oracles from the literature), entities, follow --entities, the CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tracer.analysis.cluster import cluster, entity_labels, explain
from tracer.analysis.follow import follow
from tracer.analysis.heuristics import ClusterOptions
from tracer.cli import cli
from tracer.graph.spec import Selection
from tracer.sources.labels import read_labels
from tracer.store.workspace import Workspace

S = "0x" + "1" * 40  # the customer
D = "0x" + "d" * 40  # the deposit address
E = "0x" + "e" * 40  # the exchange wallet
ETH = 10**18
ORACLE = ClusterOptions(deposit_max_blocks=100, deposit_max_diff=0.01)


def _csv(path: Path, rows: list[tuple[str, str, int, int, int]], token: str = "native") -> Path:
    """Canonical CSV of native-ETH transfers ``(src, dst, wei, block, minute)`` (token native)."""
    lines = ["tx_hash,src,dst,value,ts,block,token,seq,chain"]
    for i, (a, b, wei, block, minute) in enumerate(rows):
        lines.append(
            f"0x{i + 1:064x},{a},{b},{wei},2024-01-01T{minute // 60:02d}:{minute % 60:02d}:00Z,"
            f"{block},{token},0,ethereum"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def _labels(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("address,name,category\n" + "".join(f"{a},{n},{c}\n" for a, n, c in rows))
    return path


def _ws(tmp: Path, rows, labels) -> Workspace:  # type: ignore[no-untyped-def]
    ws, _ = Workspace.in_memory(
        [_csv(tmp / "t.csv", rows)], [read_labels(_labels(tmp / "l.csv", labels))]
    )
    return ws


# -- deposit-address reuse: the etherclust oracle ------------------------------------------------
ORACLE_ROWS = [(S, D, 100 * ETH, 10, 0), (D, E, 9999 * ETH // 100, 100, 20)]


def test_deposit_oracle_links_sender_and_deposit(tmp_path: Path) -> None:
    ws = _ws(tmp_path, ORACLE_ROWS, [(E, "Exchange X", "exchange")])
    res = cluster(ws, ("deposit",), ORACLE)
    assert res.stats["deposit_addresses"] == 1
    assert set(res.entities["address"].str.to_lowercase()) == {S, D}
    assert res.entities["entity_size"].to_list() == [2, 2]
    link = res.links.row(0, named=True)
    assert link["heuristic"] == "deposit" and "Exchange X" in link["detail"]
    assert link["tx_hashes"] == [f"0x{1:064x}", f"0x{2:064x}"]


@pytest.mark.parametrize(
    "rows,labels",
    [
        (ORACLE_ROWS, []),  # the "exchange" is unlabelled
        (ORACLE_ROWS, [(E, "Exchange X", "exchange"), (S, "Pool", "block_producer")]),
        ([(S, D, 100 * ETH, 10, 0), (D, E, 9999 * ETH // 100, 111, 20)],
         [(E, "Exchange X", "exchange")]),  # 101 blocks later: too late
        ([(S, D, 100 * ETH, 10, 0), (D, E, 9998 * ETH // 100, 100, 20)],
         [(E, "Exchange X", "exchange")]),  # 0.02 less: more than the fee tolerance
        ([(D, E, 9999 * ETH // 100, 5, 0), (S, D, 100 * ETH, 10, 20)],
         [(E, "Exchange X", "exchange")]),  # forwarded before it was received
    ],
)  # fmt: skip
def test_deposit_oracle_negatives(tmp_path: Path, rows, labels) -> None:  # type: ignore[no-untyped-def]
    res = cluster(_ws(tmp_path, rows, labels), ("deposit",), ORACLE)
    assert res.entities.height == 0 and res.links.height == 0


def test_deposit_tron_variant_uses_time_and_relative_tolerance(
    tmp_path: Path, sample_addresses: dict
) -> None:
    """USDT on Tron: forwarded whole within hours; a 0.5% fee is inside the 1% default."""
    a, d, x = (sample_addresses[k] for k in ("victim-1", "bystander-1", "exchange-c-hot"))
    lines = ["tx_hash,src,dst,value,ts,token,seq,chain"]
    usdt = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    for i, (s, t, v, when) in enumerate(
        [(a, d, 1_000_000_000, "2024-01-01T00:00:00Z"), (d, x, 995_000_000, "2024-01-01T05:00:00Z")]
    ):
        lines.append(f"0x{i + 1:064x},{s},{t},{v},{when},{usdt},0,tron")
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    labels = _labels(tmp_path / "l.csv", [(x, "Exchange C", "exchange")])
    ws, _ = Workspace.in_memory([tmp_path / "t.csv"], [read_labels(labels)])
    assert cluster(ws, ("deposit",)).stats["deposit_addresses"] == 1
    strict = ClusterOptions(deposit_max_delay=timedelta(hours=4))
    assert cluster(ws, ("deposit",), strict).stats["deposit_addresses"] == 0


# -- gas funder ----------------------------------------------------------------------------------
def _funded(n: int, funder: str = "0x" + "f" * 40) -> list[tuple[str, str, int, int, int]]:
    rows = []
    for i in range(n):
        w = f"0x{i + 1:040x}"
        rows.append((funder, w, ETH // 100, 10 + i, i))  # gas top-up first
        rows.append((w, "0x" + "9" * 40, ETH // 1000, 200 + i, 300 + i))  # then it acts
    return rows


def test_gas_funder_links_fresh_wallets_of_one_funder(tmp_path: Path) -> None:
    res = cluster(_ws(tmp_path, _funded(5), []), ("gas-funder",))
    assert res.stats["entities"] == 1 and res.stats["clustered_addresses"] == 5
    assert set(res.links["heuristic"]) == {"gas-funder"}
    assert all("0x" + "f" * 40 in d.lower() for d in res.links["detail"])


def test_gas_funder_exclusions(tmp_path: Path) -> None:
    funder = "0x" + "f" * 40
    # a labelled funder (an exchange withdrawal wallet) proves nothing
    labelled = cluster(_ws(tmp_path, _funded(5), [(funder, "Exchange", "exchange")]),
                       ("gas-funder",))  # fmt: skip
    assert labelled.entities.height == 0
    # nor does one funding more wallets than the threshold
    many = cluster(_ws(tmp_path, _funded(5), []), ("gas-funder",),
                   ClusterOptions(gas_max_funded=4))  # fmt: skip
    assert many.entities.height == 0
    # a wallet that was active before its first top-up is not fresh
    rows = [("0x" + "1" * 40, "0x" + "9" * 40, ETH // 1000, 1, 0), *_funded(3)]
    rows[0] = (f"0x{1:040x}", "0x" + "9" * 40, 0, 1, 0)  # wallet 1 sends first
    stale = cluster(_ws(tmp_path, rows, []), ("gas-funder",))
    assert f"0x{1:040x}" not in set(stale.entities["address"].str.to_lowercase())
    assert stale.entities.height == 2


# -- airdrop ------------------------------------------------------------------------------------
def test_airdrop_participants_forwarding_to_one_collector(tmp_path: Path) -> None:
    token = "0x" + "a" * 40
    src, collector = "0x" + "5" * 40, "0x" + "c" * 40
    rows = [(src, f"0x{i + 1:040x}", 10, 10 + i, i) for i in range(25)]
    rows += [(f"0x{i + 1:040x}", collector, 10, 100 + i, 100 + i) for i in range(3)]
    lines = ["tx_hash,src,dst,value,ts,block,token,seq,chain,decimals"]
    for i, (a, b, v, blk, m) in enumerate(rows):
        lines.append(f"0x{i + 1:064x},{a},{b},{v},2024-01-01T{m // 60:02d}:{m % 60:02d}:00Z,"
                     f"{blk},{token},0,ethereum,0")  # fmt: skip
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    ws, _ = Workspace.in_memory([tmp_path / "t.csv"])
    res = cluster(ws, ("airdrop",))
    assert set(res.entities["address"].str.to_lowercase()) == {
        collector,
        *(f"0x{i + 1:040x}" for i in range(3)),
    }
    assert cluster(ws, ("airdrop",), ClusterOptions(airdrop_min_recipients=30)).links.height == 0


# -- the sample case: the gas-funded peel chain -------------------------------------------------
@pytest.fixture(scope="module")
def gas_ws(sample_dir: Path) -> Workspace:
    files = ["trongrid_scam_wallet.json", "trongrid_downstream.json", "trongrid_trx_gas.json"]
    ws, _ = Workspace.in_memory([sample_dir / f for f in files],
                                [read_labels(sample_dir / "labels.csv")])  # fmt: skip
    return ws


def test_gas_funder_collapses_the_peel_chain(gas_ws: Workspace, sample_addresses: dict) -> None:
    res = cluster(gas_ws)
    peel = {sample_addresses[f"peel-{i}"] for i in range(1, 5)}
    assert set(res.entities["address"]) == peel  # bystanders funded by an exchange: not linked
    assert res.entities["entity_size"].unique().to_list() == [4]
    members, links = explain(gas_ws, sample_addresses["peel-3"])
    assert set(members["address"]) == peel and links.height == 3
    assert all(sample_addresses["trx-supplier"] in d for d in links["detail"])


def test_follow_with_entities(gas_ws: Workspace, sample_addresses: dict) -> None:
    scam = sample_addresses["scam"]
    plain = follow(gas_ws, [scam])
    entity_of, _ = entity_labels(gas_ws)
    merged = follow(gas_ws, [scam], entities=entity_of)
    # intra-entity hops do not count: every deposit is now 2 hops from the scam wallet
    hops = dict(zip(merged.reached["address"], merged.reached["min_hops"], strict=True))
    assert hops[sample_addresses["exchange-a-deposit-2"]] == 2
    assert plain.reached.filter(pl.col("min_hops") == 5).height == 1
    # nothing counted twice: the same totals, the accounting closes
    assert merged.traced_total == pytest.approx(plain.traced_total)
    assert merged.reached_total == pytest.approx(plain.reached_total)
    assert merged.unaccounted == pytest.approx(0.0, abs=1e-6)
    held = merged.held.filter(pl.col("entity_size") == 4)
    assert held.height == 1 and held["amount"][0] == pytest.approx(25_000.0)


def test_labels_spread_to_entities_as_inferred(tmp_path: Path) -> None:
    """A labelled member's label covers its entity, marked inferred in every output."""
    src, w1, w2 = "0x" + "3" * 40, "0x" + "4" * 40, "0x" + "5" * 40
    rows = [(src, w2, ETH, 1, 0), (w1, src, ETH // 10, 2, 1)]
    ws = _ws(tmp_path, rows, [(w1, "Scam collector", "scam")])
    ids = dict(ws.graph().addresses.select("address", "id").iter_rows())
    entity_of = np.arange(ws.graph().n_nodes, dtype=np.int32)
    entity_of[ids[w2]] = ids[w1]  # {w1, w2} is one entity; only w1 carries the label
    r = follow(ws, [src], Selection(assets="all"), entities=entity_of)
    row = r.reached.row(0, named=True)
    assert row["name"] == "Scam collector" and row["label_inferred"] is True
    assert row["entity_size"] == 2 and row["amount"] == pytest.approx(1.0)
    doc = r.to_dict()
    assert doc["reached"][0]["label_inferred"] is True and doc["entities"] is True
    assert doc["services"][0]["label_inferred"] is True
    # without entities the money sits unlabelled at w2
    assert follow(ws, [src], Selection(assets="all")).reached.height == 0


# -- the commands ---------------------------------------------------------------------------------
def test_cli_cluster_stores_entities_and_follow_uses_them(
    tmp_path: Path, sample_dir: Path, sample_addresses: dict
) -> None:
    ws = str(tmp_path / "ws")
    runner = CliRunner()
    files = [str(p) for p in sorted(sample_dir.glob("trongrid_*.json"))]
    assert runner.invoke(cli, ["ingest", "-w", ws, *files]).exit_code == 0
    assert (
        runner.invoke(cli, ["labels", "add", "-w", ws, str(sample_dir / "labels.csv")]).exit_code
        == 0
    )
    out = tmp_path / "entities.parquet"
    r = runner.invoke(cli, ["cluster", "-w", ws, "-o", str(out)])
    assert r.exit_code == 0, r.output
    f = pq.read_table(out)
    assert {"address", "entity_id", "entity_size", "heuristics", "evidence"} <= set(f.column_names)
    assert Workspace.open(ws).entities() is not None
    r = runner.invoke(cli, ["entity", "-w", ws, sample_addresses["peel-2"], "--format", "json"])
    doc = json.loads(r.output)
    assert len(doc["members"]) == 4 and len(doc["links"]) == 3
    r = runner.invoke(cli, ["follow", "-w", ws, sample_addresses["scam"], "--entities",
                            "--format", "json"])  # fmt: skip
    doc = json.loads(r.output)
    assert doc["entities"] is True
    assert max(x["min_hops"] for x in doc["reached"]) == 2
    # new data makes stored entities stale: they are not used silently
    shop = _labels(tmp_path / "x.csv", [(sample_addresses["bystander-3"], "Shop", "merchant")])
    assert runner.invoke(cli, ["labels", "add", "-w", ws, str(shop)]).exit_code == 0
    assert Workspace.open(ws).entities() is None
