"""tracer.cli.app.defer_first_collection: a command's start-up runs no garbage collection until
it has allocated STARTUP_GC_ALLOCATIONS objects; the first collection restores Python's
thresholds (a long command then collects as usual), and a program that turned the collector
off or tuned it keeps its choice."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tracer.cli.app import STARTUP_GC_ALLOCATIONS, defer_first_collection


@pytest.fixture
def gc_state() -> Iterator[tuple[int, int, int]]:
    """Python's collector as it was, put back after the test."""
    usual, callbacks, enabled = gc.get_threshold(), list(gc.callbacks), gc.isenabled()
    try:
        yield usual
    finally:
        gc.set_threshold(*usual)
        gc.callbacks[:] = callbacks
        (gc.enable if enabled else gc.disable)()


def test_the_first_collection_restores_pythons_thresholds(gc_state: tuple[int, int, int]) -> None:
    usual = gc_state
    defer_first_collection()
    assert gc.get_threshold() == (STARTUP_GC_ALLOCATIONS, *usual[1:])
    gc.collect(0)  # the first collection starts: Python's thresholds from then on
    assert gc.get_threshold() == usual
    gc.set_threshold(1000, 10, 10)  # the program's own choice later is not clobbered
    gc.collect(0)
    assert gc.get_threshold() == (1000, 10, 10)


def test_a_collector_turned_off_or_tuned_is_left_alone(gc_state: tuple[int, int, int]) -> None:
    gc.disable()
    defer_first_collection()
    assert gc.get_threshold() == gc_state and not gc.isenabled()
    gc.enable()
    gc.set_threshold(STARTUP_GC_ALLOCATIONS * 2, 10, 10)
    callbacks = list(gc.callbacks)
    defer_first_collection()
    assert gc.get_threshold() == (STARTUP_GC_ALLOCATIONS * 2, 10, 10)
    assert gc.callbacks == callbacks
