"""A software prefetch hint for numba kernels: ask the CPU for a row it will need soon.

A sweep reads per-address state at random rows (``bt[src[e]]``, ``bt[dst[e]]``). Each read is a
cache miss once the state outgrows the caches, and the loop's work per edge is too long for the
CPU's out-of-order window to reach the next edges' misses on its own, so it waits for one miss
after another. Issuing ``prefetch(bt, src[e + AHEAD])`` a few dozen edges early lets several
misses be in flight at once (memory-level parallelism). A prefetch is only a hint: it loads
nothing into a register, cannot fault (even on a bad address) and changes no result; results
stay bit-identical whatever the distance.

numba has no prefetch of its own, so :func:`prefetch` is an ``@intrinsic`` that emits LLVM's
``llvm.prefetch`` (``rw=1``: the row is about to be written; locality 3: keep it in all levels).
"""

from __future__ import annotations

from typing import Any

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

#: Edges between a prefetch and the use of the row it fetched. 16-48 measured within noise of
#: each other on 10M synth transfers (1.7M addresses); 4 and 64 slower (too late / evicted).
AHEAD = 32

_ir = cgutils.ir  # llvmlite's IR builder, as numba itself imports it


def prefetch(arr: Any, i: int) -> None:
    """Hint that row ``i`` of ``arr`` (first index; any dimensions, C order) is about to be
    read and written. In compiled code it is one ``llvm.prefetch``; called from Python
    (``NUMBA_DISABLE_JIT``, a kernel's ``py_func``) it does nothing, which is all a hint may do.
    ``i`` is not bounds-checked: the CPU ignores a prefetch out of range, but callers pass rows
    of the arrays they are about to index anyway."""


@overload(prefetch, inline="always")
def _prefetch_overload(arr: Any, i: Any) -> Any:
    if not isinstance(arr, types.Array) or not isinstance(i, types.Integer):
        return None

    def impl(arr: Any, i: Any) -> None:  # pragma: no cover - compiled by numba
        _prefetch(arr, i)

    return impl


@intrinsic
def _prefetch(typingctx: Any, arr: Any, i: Any) -> Any:
    """The compiled :func:`prefetch`."""
    if not isinstance(arr, types.Array) or not isinstance(i, types.Integer):
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = [context.cast(builder, args[1], sig.args[1], types.intp)]
        idx += [context.get_constant(types.intp, 0)] * (aryty.ndim - 1)
        ptr = cgutils.get_item_pointer2(
            context, builder, ary.data, cgutils.unpack_tuple(builder, ary.shape),
            cgutils.unpack_tuple(builder, ary.strides), aryty.layout, idx,
            wraparound=False, boundscheck=False,
        )  # fmt: skip
        i32 = _ir.IntType(32)
        fnty = _ir.FunctionType(_ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, cgutils.voidptr_t), i32(1), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(arr, i), codegen
