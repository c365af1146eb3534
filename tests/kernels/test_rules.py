"""The one vocabulary: model codes, roles, the rule dispatch and the prior-funds rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracer.kernels import exposure, rules, taint
from tracer.kernels.exposure import EXPOSURE_MODELS, ExposureState, exposure_sweep

FINITE = st.floats(0.0, 1e6, allow_nan=False)


def test_every_kernel_module_names_the_same_codes() -> None:
    """Exposure's models are a subset of the sweep's, under the same codes, and the roles the
    modules re-export are the rules' own (exposure once had HAIRCUT = 0 and PLAIN/ORIGIN/PASS)."""
    assert set(EXPOSURE_MODELS) <= set(rules.MODELS)
    assert all(rules.MODELS[name] == code for name, code in EXPOSURE_MODELS.items())
    for name in ("NORMAL", "SOURCE", "THROUGH", "DUST", "BEYOND", "OVERDRAFTS"):
        assert getattr(exposure, name) == getattr(rules, name)
    for name in ("NORMAL", "SOURCE", "SINK", "THROUGH", "HAIRCUT", "POISON", "TRACED"):
        assert getattr(taint, name) == getattr(rules, name)
    assert len(set(rules.MODELS.values())) == len(rules.MODELS)
    assert len({rules.NORMAL, rules.SOURCE, rules.SINK, rules.THROUGH}) == 4


@settings(deadline=None, max_examples=200)
@given(x=FINITE, b_extra=FINITE, t_frac=st.floats(0.0, 1.0))
def test_model_rule_is_each_models_rule(x: float, b_extra: float, t_frac: float) -> None:
    b = x + b_extra
    t = b * t_frac
    assert rules.model_rule(rules.POISON, x, b, t) == rules.poison_rule(x, b, t)
    assert rules.model_rule(rules.HAIRCUT, x, b, t) == rules.haircut_rule(x, b, t)
    assert rules.model_rule(rules.TIHO, x, b, t) == rules.haircut_rule(x, b, t)  # lone outputs
    assert rules.model_rule(rules.TAINT_FIRST, x, b, t) == rules.taint_first_rule(x, b, t)
    assert rules.model_rule(rules.CLEAN_FIRST, x, b, t) == rules.clean_first_rule(x, b, t)
    # and the rules themselves, as their docstrings state them
    assert rules.poison_rule(x, b, t) == (x if t > 0 else 0.0)
    assert rules.taint_first_rule(x, b, t) == min(x, t)
    assert rules.clean_first_rule(x, b, t) == max(0.0, x - (b - t))
    assert rules.haircut_rule(x, b, t) == (0.0 if b <= 0 else x * min(t / b, 1.0))


@pytest.mark.parametrize(
    ("role", "counted"),
    [(rules.NORMAL, True), (rules.THROUGH, True), (rules.SOURCE, False), (rules.SINK, False)],
)
def test_prior_funds_counts_the_shortfall_of_wallets_and_services(role: int, counted: bool) -> None:
    b, n_over, over = rules.prior_funds(2.0, 5.0, role, 1.0, 0.5)
    assert b == 5.0  # spent from the balance the transfer proves
    assert (n_over, over) == ((2.0, 3.5) if counted else (1.0, 0.5))
    assert rules.prior_funds(7.0, 5.0, role, 1.0, 0.5) == (7.0, 1.0, 0.5)  # no shortfall


@pytest.mark.parametrize("bad", [rules.SINK, 4, -1])
def test_exposure_refuses_roles_it_has_no_rule_for(bad: int) -> None:
    state = ExposureState(3, 1, np.arange(3, dtype=np.int32))
    role = np.array([rules.SOURCE, rules.NORMAL, bad], dtype=np.int8)
    cat = np.array([0, -1, -1], dtype=np.int32)
    edge = (np.array([0], np.int32), np.array([1], np.int32), np.ones(1), np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="exposure roles"):
        exposure_sweep(state, *edge, role, cat)
    role[2] = rules.THROUGH  # the same call with a role it knows runs
    exposure_sweep(state, *edge, role, cat)
    assert state.direct[1, 0] == 1.0


def test_bundles_hold_the_states_own_arrays() -> None:
    """The kernels write through the bundles: they must be the state's arrays, not copies."""
    state = taint.SweepState(np.array([rules.SOURCE, rules.NORMAL], dtype=np.int8))
    for field, arr in zip(state.arrays._fields, state.arrays, strict=True):
        assert arr is getattr(state, field)
    taint.sweep_chunk(state, np.array([0], np.int32), np.array([1], np.int32), np.ones(1),
                      np.zeros(1, np.int64), np.ones(1, bool))  # fmt: skip
    assert state.inflow[1] == 1.0 and state.taint[1] == 1.0
    ex = ExposureState(2, 1, np.arange(2, dtype=np.int32))
    assert all(a is getattr(ex, f) for f, a in zip(ex.out._fields, ex.out, strict=True))
