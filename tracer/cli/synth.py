"""``synth`` (a synthetic workspace of any size) and ``bench`` (the benchmarks as a table)."""

from __future__ import annotations

from pathlib import Path

import click

from tracer.cli.app import cli, err_console
from tracer.cli.ingest import no_precompute_option, precompute_after
from tracer.core.errors import UsageError


@cli.command()
@click.option(
    "--transfers",
    "n_transfers",
    type=click.IntRange(min=1000),
    required=True,
    help="Transfers to generate (background plus patterns).",
)
@click.option(
    "--addresses",
    "n_addresses",
    type=click.IntRange(min=1000),
    required=True,
    help="Address pool (hubs to one-shot wallets; not every one is used).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same data.")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=90,
    show_default=True,
    help="Time span of the traffic.",
)
@click.option(
    "--patterns",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Injected laundering patterns (peel chains and fan-out/fan-in).",
)
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="New workspace directory (ground_truth.json/.parquet are written into it).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@no_precompute_option
def synth(n_transfers: int, n_addresses: int, seed: int, days: int, patterns: int,
          out_dir: str, quiet: bool, no_precompute: bool) -> None:  # fmt: skip
    """Generate a synthetic USDT-on-Tron workspace with laundering patterns and ground truth.

    Then, unless --no-precompute, the graph cache and the local follow's balance passes are
    built, so a follow runs the local engine and reads them (without: follows stream).

    Example:

    \b
      tracer synth --transfers 10000000 --addresses 2000000 --seed 1 -o /tmp/synth10m
      tracer follow -w /tmp/synth10m "$(jq -r '.patterns[0].scam' /tmp/synth10m/ground_truth.json)"
    """
    from tracer.cli.progress import terminal
    from tracer.store.synth import SynthSpec
    from tracer.store.synth import synth as run

    spec = SynthSpec(transfers=n_transfers, addresses=n_addresses, seed=seed, days=days,
                     patterns=patterns)  # fmt: skip
    summary = run(spec, Path(out_dir), progress=terminal(quiet))
    err_console().print(
        f"{summary['transfers']:,} transfers, {summary['addresses']:,} addresses, "
        f"{summary['partitions']} partitions, {summary['labels']} labels, "
        f"{len(summary['patterns'])} patterns → {out_dir} (ground truth: ground_truth.json)"
    )
    if not no_precompute:
        from tracer.store.workspace import Workspace

        precompute_after(Workspace.open(Path(out_dir)), quiet, build_graph=True)


@cli.command()
@click.option(
    "--size",
    type=click.Choice(["1M", "10M", "100M"]),
    default="10M",
    show_default=True,
    help="Transfers in the synthetic graphs.",
)
@click.option("-k", "select", default=None, help="Only benchmarks matching this pytest -k.")
@click.option("-o", "--output", default=None, help="Also write the table as Markdown here.")
def bench(size: str, select: str | None, output: str | None) -> None:
    """Run the benchmark suite and print the throughput table (each next to its baseline).

    Runs ``python -m pytest -m bench benchmarks/`` from the source checkout with
    ``TRACER_BENCH_EDGES=SIZE``; needs the test extra (``pip install -e '.[test]'``).
    Synthetic workspaces are generated once and cached in ~/.cache/tracer-bench.

    Example:

    \b
      tracer bench --size 1M -k "reach or sweep" -o table.md
    """
    import importlib.util
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2] / "benchmarks"
    if not root.is_dir():
        raise UsageError(
            "the benchmark suite ships with the source checkout (benchmarks/); "
            "clone the repository and install it with pip install -e '.[test]'"
        )
    if importlib.util.find_spec("pytest_benchmark") is None:
        raise UsageError("the benchmark suite needs the test extra: pip install -e '.[test]'")
    cmd = [sys.executable, "-m", "pytest", "-m", "bench", str(root), "-q", "-p", "no:randomly"]
    if select:
        cmd += ["-k", select]
    env = {**os.environ, "TRACER_BENCH_EDGES": size}
    if output:
        env["TRACER_BENCH_TABLE"] = str(Path(output).resolve())
    code = subprocess.call(cmd, env=env, cwd=root.parent)
    if code:
        raise SystemExit(code)
