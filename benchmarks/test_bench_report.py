"""The case report of a large trace: 20,100 tainted transfers render in under 5 s, under 5 MB.

A fan-out laundering tree on Ethereum USDT: one source pays 100 wallets, each pays 100 more
(10,000 transfers), each of those pays one of 20 labelled exchange deposit addresses (10,000
more). The follow runs once (not timed); the timed part is the report itself: the flow graph
(aggregation, collapse rules, Graphviz layout), the hop table, the timeline, the paths, the
ledger Parquet beside it and the HTML.

Run: ``python -m pytest -m bench benchmarks/test_bench_report.py -s``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.conftest import record

USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
FAN = 100
EXCHANGES = 20


def _addr(i: int) -> str:
    return f"0x{i + 1:040x}"


def _tree(root: Path) -> tuple[Path, Path]:
    lines = ["tx_hash,src,dst,value,ts,token,seq,chain"]
    n = 0

    def row(src: int, dst: int, value: int, minute: int) -> None:
        nonlocal n
        n += 1
        h, m = divmod(minute, 60)
        d, h = divmod(h, 24)
        lines.append(f"0x{n:064x},{_addr(src)},{_addr(dst)},{value},"
                     f"2024-01-{1 + d:02d}T{h:02d}:{m:02d}:00Z,{USDT},0,ethereum")  # fmt: skip

    source, first, second, exch = 0, 1, 1 + FAN, 1 + FAN + FAN * FAN
    for i in range(FAN):
        row(source, first + i, 1_000_000 * 10**6, 1 + i)
    for i in range(FAN):
        for j in range(FAN):
            row(first + i, second + i * FAN + j, (10_000 - j) * 10**6, 200 + i * 10 + j % 10)
    for k in range(FAN * FAN):
        row(second + k, exch + k % EXCHANGES, (10_000 - k % FAN) * 10**6 // 2, 1500 + k // 50)
    data = root / "tree.csv"
    data.write_text("\n".join(lines) + "\n")
    labels = root / "labels.csv"
    labels.write_text("address,name,category,chain\n" + "".join(
        f"{_addr(exch + e)},Exchange {e % 4} deposit {e},exchange,ethereum\n"
        for e in range(EXCHANGES)
    ))  # fmt: skip
    return data, labels


@pytest.mark.bench
def test_report_of_a_large_trace(benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tracer.analysis.follow import follow
    from tracer.output.case_file import Case
    from tracer.output.report_html import Provenance, write_case_report
    from tracer.sources.labels import read_labels
    from tracer.store.workspace import Workspace

    data, labels = _tree(tmp_path)
    ws, _ = Workspace.in_memory([str(data)], [read_labels(str(labels))])
    result = follow(ws, [_addr(0)], model="haircut", ledger=True)
    assert result.ledger is not None and result.ledger.height >= 20_000
    case = Case(sources=[_addr(0)], title="fan-out benchmark")
    prov = Provenance(command=["tracer", "report"], inputs=[], workspace={"kind": "in-memory"},
                      label_set_sha256="-", labels=EXCHANGES, version="bench")  # fmt: skip
    out = tmp_path / "big.html"
    files = benchmark.pedantic(write_case_report, args=(result, case, prov, out), rounds=3,
                               warmup_rounds=1)  # fmt: skip
    size = out.stat().st_size
    seconds = benchmark.stats["mean"]
    record("case report, 20,100 tainted transfers", items=result.ledger.height, seconds=seconds,
           html_bytes=size, ledger_bytes=files.ledger.stat().st_size)  # fmt: skip
    benchmark.extra_info.update({"html_bytes": size, "tainted_transfers": result.ledger.height,
                                 "graph_edges": files.graph.edges.height})  # fmt: skip
    print(f"\nreport of {result.ledger.height:,} tainted transfers: {seconds:.2f} s, HTML "
          f"{size / 1e6:.2f} MB, ledger {files.ledger.stat().st_size / 1e6:.2f} MB, graph "
          f"{files.graph.nodes.height} nodes / {files.graph.edges.height} edges")
    assert size < 5_000_000, f"HTML is {size / 1e6:.1f} MB"
    assert seconds < 5.0, f"the report took {seconds:.1f} s (target < 5 s)"
