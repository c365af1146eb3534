"""Address-clustering heuristics for account-based chains: one function per rule, with evidence.

Every rule reads the transfer table (chain order, one row per edge, node ids ``s``/``d`` from
the graph) and the labelled nodes, and returns *links*: ``a, b`` (node ids), ``heuristic``,
``tx_hashes`` (the transactions that prove the link) and ``detail`` (a sentence an investigator
can check; ``{via}`` in it stands for the address in ``via``). Links are evidence;
:mod:`tracer.analysis.cluster` turns them into entities with union-find.

Rules never link *through* a labelled service (an exchange, a block producer, a mixer): a
service talks to everyone, so sharing it proves nothing.
"""

from __future__ import annotations

import polars as pl

# the thresholds live in their own light module (the CLI reads their defaults at start-up)
from tracer.analysis.cluster_options import ClusterOptions

LINK_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "a": pl.Int32,
    "b": pl.Int32,
    "via": pl.Int32,  # the funder / airdrop source / exchange wallet, shown as {via} in detail
    "heuristic": pl.String,
    "tx_hashes": pl.List(pl.String),
    "detail": pl.String,
}
HEURISTICS = ("deposit", "gas-funder", "airdrop")
_EPS = 1e-9


def empty_links() -> pl.DataFrame:
    return pl.DataFrame(schema=LINK_SCHEMA)


def _not_labelled(col: str, labelled_ids: pl.Series) -> pl.Expr:
    return ~pl.col(col).is_in(labelled_ids.implode())


def deposit_reuse(
    t: pl.DataFrame, labelled: pl.DataFrame, opts: ClusterOptions
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Deposit-address reuse (Victor 2020, "Address clustering heuristics for Ethereum", §4.1).

    An unlabelled address D that forwards what it received to one labelled exchange — the
    forward leaves within the delay bound after the receipt and is at most the tolerance
    smaller (the fee) — is a deposit address of that exchange; every sender whose payment D
    forwarded is the exchange's same customer, so each is linked to D. Senders that are
    labelled (block producers paying rewards, other services) are never linked. EVM chains use
    blocks and an absolute tolerance; Tron uses time and a relative one (``ClusterOptions``).
    Returns the links and ``D, exchange`` (deposit addresses found).
    """
    exch = labelled.filter(pl.col("category") == "exchange").select(
        pl.col("id").alias("E"), pl.col("name").alias("exchange")
    )
    lab = labelled["id"]
    if exch.height == 0 or t.height == 0:
        return empty_links(), pl.DataFrame(schema={"D": pl.Int32, "exchange": pl.String})
    fwd = (
        t.join(exch, left_on="d", right_on="E", how="inner")
        .filter(_not_labelled("s", lab))
        .select(
            pl.col("s").alias("D"),
            pl.col("d").alias("E"),
            "exchange",
            "token",
            "chain",
            pl.col("row").alias("f_row"),
            pl.col("tx_hash").alias("f_tx"),
            pl.col("block").alias("f_block"),
            pl.col("ts").alias("f_ts"),
            pl.col("amount").alias("f_amt"),
        )
    )
    single = (
        fwd.group_by("D").agg(pl.col("exchange").n_unique().alias("k")).filter(pl.col("k") == 1)
    )
    fwd = fwd.join(single.select("D"), on="D", how="semi")
    inb = t.filter(pl.col("d").is_in(fwd["D"].unique().implode()) & _not_labelled("s", lab)).select(
        pl.col("s").alias("S"),
        pl.col("d").alias("D"),
        "token",
        pl.col("row").alias("i_row"),
        pl.col("tx_hash").alias("i_tx"),
        pl.col("block").alias("i_block"),
        pl.col("ts").alias("i_ts"),
        pl.col("amount").alias("i_amt"),
    )
    j = inb.join(fwd, on=["D", "token"], how="inner", nulls_equal=True).filter(
        (pl.col("f_row") > pl.col("i_row")) & (pl.col("S") != pl.col("D"))
    )
    evm = ~pl.col("chain").is_in(["tron"])
    by_block = evm & pl.col("f_block").is_not_null() & pl.col("i_block").is_not_null()
    delay_ok = (
        pl.when(by_block)
        .then((pl.col("f_block") - pl.col("i_block")).is_between(0, opts.deposit_max_blocks))
        .otherwise((pl.col("f_ts") - pl.col("i_ts")) <= opts.deposit_max_delay)
    )
    diff = pl.col("i_amt") - pl.col("f_amt")
    tol = (
        pl.when(evm)
        .then(pl.lit(opts.deposit_max_diff))
        .otherwise(opts.deposit_max_rel_diff * pl.col("i_amt"))
    )
    m = j.filter(delay_ok & (diff >= -_EPS) & (diff <= tol * (1 + _EPS) + _EPS))
    if m.height == 0:
        return empty_links(), pl.DataFrame(schema={"D": pl.Int32, "exchange": pl.String})
    links = (
        m.sort("i_row")
        .group_by("S", "D", maintain_order=True)
        .first()
        .select(
            pl.col("S").alias("a"),
            pl.col("D").alias("b"),
            pl.col("E").alias("via"),
            pl.lit("deposit").alias("heuristic"),
            pl.concat_list("i_tx", "f_tx").alias("tx_hashes"),
            pl.format(
                "deposit address reuse: the sender's {} was forwarded as {} to {} ({{via}})",
                pl.col("i_amt").round(6),
                pl.col("f_amt").round(6),
                pl.col("exchange"),
            ).alias("detail"),
        )
    )
    deposits = m.select("D", "exchange").unique().sort("D")
    return links.cast(LINK_SCHEMA), deposits  # type: ignore[arg-type]


def gas_funder(t: pl.DataFrame, labelled: pl.DataFrame, opts: ClusterOptions) -> pl.DataFrame:
    """Common gas funder: fresh wallets first topped up with the native coin by one funder.

    A wallet's first native-coin (TRX/ETH) receipt pays its fees; when it arrives before the
    wallet has sent anything (fresh), the sender chose to fund a new wallet. Wallets whose first
    funding came from the same funder are linked (to the first wallet it funded): the pattern of
    laundering operations that top up hundreds of intermediary wallets from one TRX supplier.
    Excluded: labelled funders (exchange withdrawals fund millions of wallets), funders of more
    than ``gas_max_funded`` wallets, and labelled wallets. The funder itself is not linked:
    buying TRX from a supplier does not make you the supplier.
    """
    lab = labelled["id"]
    native = t.filter(pl.col("token").is_null())
    if native.height == 0:
        return empty_links()
    first_in = (
        native.sort("row")
        .group_by("d", maintain_order=True)
        .first()
        .select(
            pl.col("d").alias("W"),
            pl.col("s").alias("F"),
            pl.col("row").alias("g_row"),
            pl.col("tx_hash").alias("g_tx"),
            pl.col("asset").alias("coin"),
        )
    )
    first_out = t.group_by("s").agg(pl.col("row").min().alias("o_row"))
    fresh = (
        first_in.join(first_out, left_on="W", right_on="s", how="left")
        .filter(pl.col("o_row").is_null() | (pl.col("o_row") > pl.col("g_row")))
        .filter(_not_labelled("F", lab) & _not_labelled("W", lab))
    )
    fresh = fresh.with_columns(pl.len().over("F").alias("funded")).filter(
        pl.col("funded").is_between(2, opts.gas_max_funded)
    )
    anchor = (
        fresh.sort("g_row")
        .group_by("F", maintain_order=True)
        .first()
        .select("F", pl.col("W").alias("W0"), pl.col("g_tx").alias("g_tx0"))
    )
    links = (
        fresh.join(anchor, on="F")
        .filter(pl.col("W") != pl.col("W0"))
        .sort("g_row")
        .select(
            pl.col("W").alias("a"),
            pl.col("W0").alias("b"),
            pl.col("F").alias("via"),
            pl.lit("gas-funder").alias("heuristic"),
            pl.concat_list("g_tx", "g_tx0").alias("tx_hashes"),
            pl.format(
                "common gas funder: both first funded with {} by {{via}}, which funded {} "
                "fresh wallets",
                pl.col("coin"),
                pl.col("funded"),
            ).alias("detail"),
        )
    )
    return links.cast(LINK_SCHEMA)  # type: ignore[arg-type]


def airdrop(t: pl.DataFrame, labelled: pl.DataFrame, opts: ClusterOptions) -> pl.DataFrame:
    """Airdrop multi-participation (Victor 2020, §4.2): participants forwarding to one collector.

    A (sender, token) that pays at least ``airdrop_min_recipients`` distinct addresses is a
    distribution. Recipients that later forward that token to the same unlabelled collector —
    at least two of them — are one operator farming the airdrop with many addresses; each is
    linked to the collector.
    """
    lab = labelled["id"]
    tok = t.filter(pl.col("token").is_not_null())
    if tok.height == 0:
        return empty_links()
    dist = (
        tok.group_by("s", "token")
        .agg(pl.col("d").n_unique().alias("k"))
        .filter(pl.col("k") >= opts.airdrop_min_recipients)
    )
    if dist.height == 0:
        return empty_links()
    recv = (
        tok.join(dist.select("s", "token"), on=["s", "token"], how="semi")
        .sort("row")
        .group_by("d", "token", maintain_order=True)
        .first()
        .select(
            pl.col("d").alias("R"),
            "token",
            pl.col("s").alias("A"),
            pl.col("row").alias("a_row"),
            pl.col("tx_hash").alias("a_tx"),
        )
    )
    fwd = tok.select(
        pl.col("s").alias("R"),
        pl.col("d").alias("C"),
        "token",
        pl.col("row").alias("f_row"),
        pl.col("tx_hash").alias("f_tx"),
    )
    j = (
        recv.join(fwd, on=["R", "token"])
        .filter(
            (pl.col("f_row") > pl.col("a_row"))
            & (pl.col("C") != pl.col("A"))
            & _not_labelled("C", lab)
            & _not_labelled("R", lab)
        )
        .sort("f_row")
        .group_by("R", "C", maintain_order=True)
        .first()
    )
    j = j.with_columns(pl.col("R").n_unique().over("C").alias("participants")).filter(
        pl.col("participants") >= 2
    )
    links = j.select(
        pl.col("R").alias("a"),
        pl.col("C").alias("b"),
        pl.col("A").alias("via"),
        pl.lit("airdrop").alias("heuristic"),
        pl.concat_list("a_tx", "f_tx").alias("tx_hashes"),
        pl.format(
            "airdrop multi-participation: received {{via}}'s airdrop and forwarded it to a "
            "collector shared by {} participants",
            pl.col("participants"),
        ).alias("detail"),
    )
    return links.cast(LINK_SCHEMA)  # type: ignore[arg-type]
