"""numba's decorators, with numba imported without its optional probes of scipy, cffi and yaml.

Every kernel module takes ``njit`` (and ``prange``) from here, so whichever kernel a command
imports first prepares numba the same way.

Why: a cold ``tracer follow`` on the sample case spends most of its time importing, and numba
imports three optional packages for features no kernel here uses, about 0.25 s of CPU of a
1.4 s process (measured with ``python -X importtime``; see tests/kernels/test_jit.py):

- ``scipy``: numba checks its version when imported, and ``numba.np.arraymath`` asks whether
  scipy's BLAS is there (``_HAVE_BLAS``, for ``np.dot``/``np.linalg``), which imports
  ``scipy.linalg``. No kernel calls them, and scipy is not a tracer dependency (it comes with
  the test tools), so a user without it already runs numba this way.
- ``cffi``: ``numba.core.typing.cffi_utils`` builds a ``cffi.FFI()`` (its C parser) when numba
  first types an argument of no registered type, to recognise cffi functions.
- ``yaml``: numba reads ``.numba_config.yaml`` from the current folder; yaml is masked only when
  no such file is there, so a user's config file is still read.

A masked module is ``None`` in ``sys.modules`` (its import raises ImportError at once, without
importing its parent packages) only while numba's own modules import, and is removed after, so
scipy, cffi and yaml stay importable for everyone else in the process.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

#: numba's own file of settings (``numba.core.config._config_fname``), read from the cwd.
NUMBA_CONFIG_FILE = ".numba_config.yaml"
#: Module prefixes of this package's kernels: installed (``tracer.kernels``), and a checkout's
#: top-level folder imported as such (``kernels``, by the kernel tests and benchmarks).
KERNEL_MODULES = ("tracer.kernels.", "kernels.")


@contextmanager
def absent(names: list[str]) -> Iterator[list[str]]:
    """Make ``names`` (those not imported yet) unimportable inside the block; yields them."""
    masked = [n for n in names if n not in sys.modules]
    for n in masked:
        sys.modules[n] = None  # type: ignore[assignment]
    try:
        yield masked
    finally:
        for n in masked:
            if n in sys.modules and sys.modules[n] is None:
                del sys.modules[n]


def optional_probes() -> list[str]:
    """The optional packages numba would import for nothing here (see the module docstring)."""
    names = ["scipy", "cffi"]
    if not os.path.isfile(NUMBA_CONFIG_FILE):
        names.append("yaml")
    return names


def load_numba() -> None:
    """Import numba with the probes masked and load cached kernels the short way; idempotent.

    Nothing changes if numba's array support is already imported (numba keeps what it found).
    """
    if "numba.np.arraymath" not in sys.modules:
        with absent(optional_probes()):
            import numba.core.typing.cffi_utils  # noqa: F401
    defer_registries()


def _ours(py_func: Any) -> bool:
    """Whether a numba function is a kernel of this package (the short ways are only ours)."""
    return (getattr(py_func, "__module__", "") or "").startswith(KERNEL_MODULES)


#: numba releases whose internals the short load (:func:`defer_registries`) was read against and
#: tested with: it replaces four of numba's private functions, so any other release keeps
#: numba's own load until it is checked (``tests/kernels/test_jit_short_load.py``).
SHORT_LOAD_NUMBA = ("0.68.",)


def short_load_supported() -> bool:
    """Whether the installed numba is one the short load was verified against."""
    import numba

    return str(numba.__version__).startswith(SHORT_LOAD_NUMBA)


def defer_registries() -> None:
    """Load this package's cached kernels without numba's typing and lowering registries.

    Why: numba's ``Cache.load_overload`` first calls ``target_context.refresh()``, which imports
    about 60 modules (``numba.np.arraymath``, ``numba.cpython.*``, ``numba.typed``, ...) and
    installs about a thousand ``@overload`` templates: 0.15-0.2 s of CPU on the sample case,
    a fifth of the whole cold ``tracer follow``. Machine code loaded from the cache is typed
    and lowered already; to run it needs only what puts symbols into LLVM's table: numba's
    runtime (NRT, ``rtsys.initialize``), the C helpers and math functions (installed when the
    target context is made), the hash secret (``numba.cpython.hashing``, at its import) and the
    threading layer (re-run by the cached kernel's own ``reload_init``). So a cached kernel of
    ours loads with just those; a cache miss (or a new signature) compiles through numba's
    compiler, which refreshes the registries itself (``CompilerBase.__init__``), and every other
    function in the process keeps numba's own load. The first full refresh still runs with
    scipy masked while ``numba.np.arraymath`` imports (its BLAS probe, as at import above).

    Two more first-call costs go the same way: numba's entry-point scan for third-party
    extensions (``entrypoints.init_all``, ``importlib.metadata`` over every installed package,
    ~10 ms) before a kernel of ours is first called, which a compile still runs (from the
    registries' refresh, ``CPUContext.load_additional_registries``); and numba's own modules
    imported only to be the globals of inlined functions' environments (:func:`rebuild_env`).
    Not numpy.ma (numba's ``typeof`` of an array asks for ``np.ma.MaskedArray``): polars
    imports it anyway, for every ``pl.Series`` made from a numpy array.
    """
    if not short_load_supported():
        return  # another numba: its own load (slower, and read against that version's code)
    from numba.core import caching, cpu, dispatcher, environment

    if getattr(caching.Cache.load_overload, "_tracer_short", False):
        return
    full_load = caching.Cache.load_overload
    full_registries = cpu.CPUContext.load_additional_registries

    def load_overload(self: Any, sig: Any, target_context: Any) -> Any:
        if not (_ours(self._py_func) and isinstance(target_context, cpu.CPUContext)):
            return full_load(self, sig, target_context)
        initialize_runtime(target_context)  # NRT: cached kernels allocate with it
        import numba.cpython.hashing  # noqa: F401  (adds the _numba_hashsecret_ symbols)

        with self._guard_against_spurious_io_errors():
            return short_load(self, sig, target_context)
        return None  # the guard swallowed an I/O error: numba compiles (as its own load does)

    def load_additional_registries(self: Any) -> None:
        probes = ["scipy"] if "numba.np.arraymath" not in sys.modules else []
        with absent(probes):
            full_registries(self)

    def compilation_chain_init_hook(self: Any) -> None:
        if not _ours(self.py_func):
            full_hook(self)

    global _full_rebuild_env
    _full_rebuild_env = environment._rebuild_env
    environment._rebuild_env = rebuild_env
    defer_shared_modules()
    load_overload._tracer_short = True  # type: ignore[attr-defined]
    caching.Cache.load_overload = load_overload  # type: ignore[method-assign]
    cpu.CPUContext.load_additional_registries = load_additional_registries  # type: ignore[method-assign]
    full_hook = dispatcher.Dispatcher._compilation_chain_init_hook
    dispatcher.Dispatcher._compilation_chain_init_hook = compilation_chain_init_hook  # type: ignore[method-assign]


#: True while :func:`short_load` unpickles a kernel of ours (under numba's compiler lock).
_short_loading = False


def short_load(cache: Any, sig: Any, target_context: Any) -> Any:
    """numba's ``Cache._load_overload`` (index lookup, unpickle, rebuild from object code)."""
    global _short_loading, _symbols_folder
    if not cache._enabled:
        return None
    key = cache._index_key(sig, target_context.codegen())
    _short_loading = True
    try:
        data = cache._cache_file.load(key)
    finally:
        _short_loading = False
    if data is None:
        return None
    _symbols_folder = cache._cache_path
    try:
        return cache._impl.rebuild(target_context, data)
    finally:
        _symbols_folder = None


def rebuild_env(modname: str, consts: list[Any], env_name: str) -> Any:
    """numba's ``environment._rebuild_env``, without importing numba's own modules for nothing.

    A cached kernel carries the environment (constants, and the module dict as its globals) of
    every function inlined into it, numba's numpy implementations among them; numba imports
    each one's module to use its dict as the globals: ``numba.np.arrayobj`` (with
    ``numba.cpython.unicode``, ``charseq``...), 30-50 ms of CPU on the sample follow. Only
    object mode ever reads an environment's globals (``numba/core/pylowering.py``; nopython code
    and its wrapper use the constants, ``EnvironmentManager``), and numba's implementations are
    nopython, so while a kernel of ours loads, a numba module not imported yet gets a dict that
    names it. Anything else: numba's own function.
    """
    from numba.core import environment

    env = environment.lookup_environment(env_name)
    if env is not None:
        return env
    if not (_short_loading and modname.startswith("numba.") and modname not in sys.modules):
        return _full_rebuild_env(modname, consts, env_name)
    env = environment.Environment({"__name__": modname})
    env.consts[:] = consts
    env.env_name = env_name
    environment.Environment._memo[env_name] = env
    return env


# Pickled under numba's name (``Environment.__reduce__`` names ``_rebuild_env``): cache files
# written in a process that imported this module stay loadable without it.
rebuild_env.__module__ = "numba.core.environment"
rebuild_env.__qualname__ = rebuild_env.__name__ = "_rebuild_env"


_full_rebuild_env: Any = None  # numba's own, kept by defer_registries

#: The cache folder of the kernel :func:`short_load` is rebuilding (None otherwise).
_symbols_folder: str | None = None


def defer_shared_modules() -> None:
    """Load a cached kernel of ours without parsing its LLVM bitcode, which only linking needs.

    Why: numba keeps two things per cached library, its machine code and the bitcode of its
    module for linking into later compiles, and on load it parses the bitcode (``parse_bitcode``)
    and walks every function and global in it for the names the machine code defines (numba's
    symbol table, ``JitEngine._defined_symbols``): 30-40 ms of CPU for the sample follow's nine
    kernels, about a thousand calls into llvmlite, for a module nothing may ever link. So the
    names are kept beside the kernel's cache files (``tracer-symbols-<sha1 of the
    bitcode>.json``: a pure function of the bitcode, written the first time a kernel is loaded
    the full way) and the bitcode is parsed only when a compile links the library
    (``_get_module_for_linking``). Any missing or unreadable file: numba's own load.
    """
    from numba.core import codegen as numba_codegen

    library = numba_codegen.CPUCodeLibrary
    if getattr(library._unserialize, "_tracer_short", False):
        return
    full_unserialize = library._unserialize.__func__  # type: ignore[attr-defined]
    full_linking = library._get_module_for_linking

    def unserialize(cls: Any, codegen: Any, state: Any) -> Any:
        name, kind, data = state
        folder = _symbols_folder
        if kind != "object" or folder is None:
            return full_unserialize(cls, codegen, state)
        object_code, bitcode = data
        path = os.path.join(folder, f"tracer-symbols-{hashlib.sha1(bitcode).hexdigest()}.json")
        names = read_symbols(path)
        if names is None:
            self = full_unserialize(cls, codegen, state)
            write_symbols(path, defined_symbols(self._shared_module))
            return self
        self = codegen.create_library(name)
        self.enable_object_caching()
        self._set_compiled_object(object_code)
        self._tracer_bitcode = bitcode
        self._finalize_final_module()
        codegen._engine._defined_symbols |= names
        return self

    def get_module_for_linking(self: Any) -> Any:
        bitcode = getattr(self, "_tracer_bitcode", None)
        if bitcode is not None and self._shared_module is None:
            self._shared_module = numba_codegen.ll.parse_bitcode(bitcode)  # llvmlite.binding
            self._tracer_bitcode = None
        return full_linking(self)

    unserialize._tracer_short = True  # type: ignore[attr-defined]
    library._unserialize = classmethod(unserialize)  # type: ignore[assignment]
    library._get_module_for_linking = get_module_for_linking  # type: ignore[method-assign]


def defined_symbols(module: Any) -> set[str]:
    """The names an LLVM module defines, as numba's ``JitEngine._load_defined_symbols`` takes
    them (what is kept beside the cache files)."""
    return {gv.name for gsets in (module.functions, module.global_variables) for gv in gsets
            if not gv.is_declaration}  # fmt: skip


def read_symbols(path: str) -> set[str] | None:
    """The names kept at ``path`` (None when absent or not a JSON list of strings)."""
    try:
        with open(path, encoding="utf-8") as fh:
            names = json.load(fh)
    except (OSError, ValueError):
        return None
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        return None
    return set(names)


def write_symbols(path: str, names: set[str]) -> None:
    """Keep ``names`` at ``path`` (see :func:`write_cache_file`)."""
    write_cache_file(path, json.dumps(sorted(names)).encode())


def write_cache_file(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file renamed into place, so a reader
    sees all or nothing); a cache folder that refuses is left alone (a cache, not a result)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError:
        with suppress(OSError):
            os.unlink(tmp)


def initialize_runtime(target_context: Any) -> None:
    """numba's ``rtsys.initialize``, with NRT's compiled functions from a cache file.

    Why: numba builds its runtime's few LLVM functions (atomic reference counts, the
    unresolved-symbol abort) and compiles them with LLVM in every process, 20-30 ms of CPU
    before the first kernel runs. They depend only on numba, llvmlite and the CPU (and numba's
    optimisation level and NRT debug switches), so the library is kept, serialised the way
    numba keeps a kernel (machine code and linking bitcode), as ``tracer-nrt-<sha1 of
    those>.pkl`` in numba's cache folder, and loaded like a cached kernel
    (:func:`defer_shared_modules`). Everything else of ``initialize`` (NRT's C helpers into
    LLVM's symbol table, its statistics switch) is numba's.
    """
    from numba.core.runtime import nrt, nrtdynmod

    if nrt.rtsys._init:
        return
    full = nrtdynmod.compile_nrt_functions
    nrtdynmod.compile_nrt_functions = lambda ctx: cached_runtime_library(ctx, full)
    try:
        nrt.rtsys.initialize(target_context)
    finally:
        nrtdynmod.compile_nrt_functions = full


def cached_runtime_library(ctx: Any, compile_full: Any) -> Any:
    """NRT's LLVM library from the cache folder, or compiled (and kept there)."""
    global _symbols_folder
    import pickle

    import numba
    from numba.core import config
    from numba.core.runtime import nrtdynmod

    folder = config.CACHE_DIR
    if not folder or not os.path.isdir(folder):
        return compile_full(ctx)
    codegen = ctx.codegen()
    llvm = sys.modules["llvmlite"]  # numba's own dependency (kernels import numba only)
    key = (
        numba.__version__,
        llvm.__version__,
        codegen.magic_tuple(),
        str(config.OPT),
        config.DEBUG_NRT,
        config.DEBUG_NRT_STACK_LIMIT,
    )  # what nrtdynmod's code reads
    digest = hashlib.sha1(repr(key).encode()).hexdigest()
    path = os.path.join(folder, f"tracer-nrt-{digest}.pkl")
    try:
        with open(path, "rb") as fh:
            state = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError):
        state = None
    if runtime_state_ok(state):
        before, _symbols_folder = _symbols_folder, folder
        try:
            return codegen.unserialize_library(state)
        finally:
            _symbols_folder = before
    ir_mod, library = nrtdynmod.create_nrt_module(ctx)
    library.enable_object_caching()  # keep the machine code, to save it
    library.add_ir_module(ir_mod)
    library.finalize()
    write_cache_file(path, pickle.dumps(library.serialize_using_object_code()))
    return library


def runtime_state_ok(state: Any) -> bool:
    """Whether ``state`` has the shape numba's ``serialize_using_object_code`` gives NRT."""
    return (
        isinstance(state, tuple)
        and len(state) == 3
        and state[:2] == ("nrt", "object")
        and isinstance(state[2], tuple)
        and len(state[2]) == 2
        and all(isinstance(b, bytes) for b in state[2])
    )


load_numba()

from numba import prange  # noqa: E402

from ._lazy_kernel import lazy_njit as njit  # noqa: E402
from ._lazy_kernel import register_typeof  # noqa: E402

register_typeof()

__all__ = ["absent", "defer_registries", "load_numba", "njit", "optional_probes", "prange"]
