"""The clustering thresholds and their published defaults (:mod:`tracer.analysis.heuristics`).

Standard library only: the command line builds one option per threshold from these defaults when
it starts, and must not load polars for that.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta


@dataclass(frozen=True)
class ClusterOptions:
    """Thresholds, with their published defaults (the README repeats them)."""

    #: deposit reuse, EVM chains: forward within this many blocks (etherclust: 10,000;
    #: Tutela uses 3,200) and at most this much less than received (etherclust: 0.01 ETH).
    deposit_max_blocks: int = 10_000
    deposit_max_diff: float = 0.01
    #: deposit reuse, Tron (fees are paid in TRX, so token amounts are forwarded whole, and
    #: block numbers are often missing from exports): a time bound (10,000 blocks at 3 s) and a
    #: relative amount tolerance.
    deposit_max_delay: timedelta = timedelta(seconds=30_000)
    deposit_max_rel_diff: float = 0.01
    #: gas funder: a funder topping up more wallets than this is a service (a withdrawal hot
    #: wallet, a faucet) even without a label, and is ignored.
    gas_max_funded: int = 500
    #: airdrop: a (sender, token) paying at least this many distinct addresses is a distribution.
    airdrop_min_recipients: int = 20

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["deposit_max_delay"] = self.deposit_max_delay.total_seconds()
        return d
