"""``node_labels`` finds the labelled nodes without copying the address dictionary (issue 17.5)
and gives what the whole-dictionary joins gave."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.core.addresses import is_evm
from tracer.graph.selection import node_labels
from tracer.sources.labels import primary_labels
from tracer.store.graph_cache import NodeIndex

CHAINS = ["ethereum", "bsc", "tron"]
ADDRS = [f"0x{i:040x}" for i in range(12)]
CATS = ["exchange", "mixer", "scam", "otc_desk", "sanctioned"]


def whole_dictionary_joins(graph: NodeIndex, labels: pl.DataFrame) -> pl.DataFrame:
    """The previous definition: both joins over the whole address dictionary."""
    nodes = graph.addresses
    with_chain = labels.filter(pl.col("chain").is_not_null())
    any_evm = labels.filter(pl.col("chain").is_null()).drop("chain")
    evm_chains = [c for c in nodes["chain"].unique().to_list() if is_evm(c)]
    joined = pl.concat([
        nodes.join(with_chain, on=["chain", "address"], how="inner"),
        nodes.filter(pl.col("chain").is_in(evm_chains)).join(any_evm, on="address", how="inner")
        .select([*nodes.columns, "name", "category", "source", "confidence"]),
    ])  # fmt: skip
    return primary_labels(joined).select("id", "name", "category", "source", "confidence")


@settings(deadline=None, max_examples=60)
@given(
    nodes=st.lists(st.tuples(st.sampled_from(CHAINS), st.sampled_from(ADDRS)), unique=True,
                   min_size=1, max_size=25),
    labels=st.lists(st.tuples(st.sampled_from([None, *CHAINS]), st.sampled_from(ADDRS),
                              st.sampled_from(CATS)), max_size=15),
)  # fmt: skip
def test_node_labels_equals_whole_dictionary_joins(nodes: list, labels: list) -> None:
    graph = NodeIndex(
        addresses=pl.DataFrame({"id": list(range(len(nodes))), "chain": [c for c, _ in nodes],
                                "address": [a for _, a in nodes]},
                               schema={"id": pl.Int32, "chain": pl.String, "address": pl.String}),
        tokens=pl.DataFrame(),
    )  # fmt: skip
    lab = pl.DataFrame(
        {"chain": [c for c, _, _ in labels], "address": [a for _, a, _ in labels],
         "name": [f"n{i}" for i in range(len(labels))],  # distinct: no tie in primary_labels
         "category": [k for _, _, k in labels], "source": ["t"] * len(labels),
         "confidence": ["high"] * len(labels)},
        schema={"chain": pl.String, "address": pl.String, "name": pl.String,
                "category": pl.String, "source": pl.String, "confidence": pl.String},
    )  # fmt: skip
    got = node_labels(graph, lab)
    want = whole_dictionary_joins(graph, lab)
    assert got.equals(want), (got, want)
