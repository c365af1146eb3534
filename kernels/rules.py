"""The taint models' shared vocabulary: roles, model codes, stats indices, and one rule per
model (the taint a transfer carries), used by every sweep kernel (:mod:`.taint`, :mod:`.lots`,
:mod:`.exposure`).

Kept apart so each kernel module imports the rules instead of restating them: one code per
role and per model everywhere (the exposure kernel once had its own, with ``HAIRCUT = 0``).

Roles, per address (``int8``):

* ``NORMAL`` — an unlabelled wallet: taint moves on under the model.
* ``SOURCE`` — where taint starts: a traced wallet (follow), or a labelled address whose
  outflows carry its category (exposure's origins). It absorbs what comes back.
* ``SINK`` — a flagged service that absorbs and reports what arrives (follow only).
* ``THROUGH`` — a labelled pass-through service (OTC desk, swap, bridge): taint moves on as
  through a wallet; in exposure the rest of its outflows counts as its own category.
"""

from __future__ import annotations

from ._jit import njit

NORMAL, SOURCE, SINK, THROUGH = 0, 1, 2, 3

POISON, HAIRCUT, TAINT_FIRST, CLEAN_FIRST, TIHO, FIFO, LIFO = 0, 1, 2, 3, 4, 5, 6
MODELS = {
    "poison": POISON,
    "haircut": HAIRCUT,
    "taint-first": TAINT_FIRST,
    "clean-first": CLEAN_FIRST,
    "tiho": TIHO,
    "fifo": FIFO,
    "lifo": LIFO,
}
#: Indices into a run's ``stats`` (the totals of one sweep).
TRACED, DUST, BEYOND, OVERDRAFTS, OVERDRAFT_AMOUNT, LOT_MERGES = 0, 1, 2, 3, 4, 5
N_STATS = 6
#: Columns of per-colour and per-category ``stats[c, :]``: the first three as in a run's stats
#: (seeded, below dust, beyond the hop limit); exposure adds what arrived at hop 1 (direct) or
#: later (indirect), and what of it arrived at a labelled origin (absorbed there).
SEEDED = TRACED
DIRECT, INDIRECT, ABSORBED = 3, 4, 5
N_CAT_STATS = 6
#: Default bound on a FIFO/LIFO queue (lots per address); see :func:`.lots._lots_push`.
DEFAULT_MAX_LOTS = 1024


# ---------------------------------------------------------------------------------------------
# The rules: one function per model (``x`` moved, balance ``b`` >= x after the prior-funds
# adjustment, tainted part ``t`` <= b). Each returns the taint the transfer carries.
# ---------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def poison_rule(x: float, b: float, t: float) -> float:
    """Poison: any outflow of an address that ever received taint is wholly tainted.

    Rule: ``x if t > 0 else 0``. Does not conserve value (the same unit can taint many outflows):
    an upper bound on every other model, edge by edge. Source: Möser, Böhme & Breuker (2014),
    "Towards risk scoring of Bitcoin transactions", §3 (poison); BlockSci's ``poison``.
    """
    return x if t > 0.0 else 0.0


@njit(cache=True, inline="always")
def haircut_rule(x: float, b: float, t: float) -> float:
    """Haircut: every outflow carries the address's tainted share, pro rata.

    Rule: ``x * t / b``. Conserves value; taint spreads thinly over everything the address pays.
    Source: Möser, Böhme & Breuker (2014), §3 (haircut); BlockSci's ``haircut``. Edge case:
    ``b == 0`` cannot occur after the prior-funds adjustment unless ``x == 0`` (then 0).
    """
    if b <= 0.0:
        return 0.0
    share = t / b
    if share > 1.0:
        share = 1.0
    return x * share


@njit(cache=True, inline="always")
def taint_first_rule(x: float, b: float, t: float) -> float:
    """Taint-first (seniority): tainted funds leave before clean ones.

    Rule: ``min(x, t)``. The claimant-friendly rule of English tracing law when the wrongdoer
    mixes the claimant's money with their own and dissipates it (Re Hallett's Estate (1880): the
    trustee is presumed to spend their own money first would be the opposite; seniority is the
    "victim's money first" reading used by Anderson et al. 2019, "Bitcoin Redux", §4).
    """
    return x if x < t else t


@njit(cache=True, inline="always")
def clean_first_rule(x: float, b: float, t: float) -> float:
    """Clean-first with lowest intermediate balance (LIBR).

    Rule: ``max(0, x - (b - t))``: clean funds leave first, taint only when the balance drops
    below the tainted part. Later clean deposits never raise ``t`` (the tainted part can only
    fall with withdrawals), which is the lowest-intermediate-balance rule: Re Hallett's Estate
    (1880) and Roscoe v Winder (1915); for crypto, Anderson et al. 2019, §4.
    """
    r = x - (b - t)
    if r > x:  # only when t > b, a rounding residue of summed shares: a transfer never
        r = x  # carries more taint than its amount (a zero-amount transfer carries none)
    return r if r > 0.0 else 0.0


@njit(cache=True, inline="always")
def model_rule(model: int, x: float, b: float, t: float) -> float:
    """The taint ``model`` assigns to a transfer of ``x`` from balance ``b`` holding ``t``.

    The one dispatch every kernel calls (inlined into each: ``model`` is the same for the
    whole loop, so the branch is predicted). TIHO's lone outputs are haircut; FIFO and LIFO
    spend lots instead (:mod:`.lots`) and never reach here.
    """
    if model == POISON:
        return poison_rule(x, b, t)
    if model == TAINT_FIRST:
        return taint_first_rule(x, b, t)
    if model == CLEAN_FIRST:
        return clean_first_rule(x, b, t)
    return haircut_rule(x, b, t)


@njit(cache=True, inline="always")
def prior_funds(b: float, x: float, role: int, n_over: float, over: float) -> tuple:
    """Unknown prior funds: a sender paying ``x`` from an observed balance ``b < x`` had clean
    funds from before the window. Returns the balance to spend from and the counters (the
    shortfalls of wallets and pass-through services, never silently; sources and sinks are
    not counted: their balances are not followed)."""
    if x > b:
        if role == NORMAL or role == THROUGH:
            n_over += 1.0
            over += x - b
        b = x
    return b, n_over, over
