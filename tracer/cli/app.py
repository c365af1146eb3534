"""The ``tracer`` command line: parse options, call one library function, render.

Errors a user can fix arrive as :class:`tracer.core.errors.TracerError` and are turned into a
one-line message and an exit code here, in one place; nothing else in the package prints or exits.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from tracer.core.errors import TracerError
from tracer.core.version import __version__

if TYPE_CHECKING:
    from rich.console import Console

#: Exit code of an unexpected exception (sysexits EX_SOFTWARE): distinct from bad input (2).
INTERNAL_ERROR_EXIT = 70


#: The module that defines each command (its ``@cli.command`` registers it when imported).
#: A command imports only its own module; a help screen or a completion imports them all.
#: Why: the other command modules cost a cold ``tracer follow`` 10-15 ms of CPU for nothing
#: (their options, dataclasses and helpers). tests/cli/test_cli_lazy.py holds the table to
#: what the modules register.
COMMAND_MODULES = {
    "conversions": "tracer.cli.conversions",
    "hops": "tracer.cli.conversions",
    "follow": "tracer.cli.follow",
    "source": "tracer.cli.follow",
    "ingest": "tracer.cli.ingest",
    "labels": "tracer.cli.ingest",
    "info": "tracer.cli.ingest",
    "export": "tracer.cli.ingest",
    "report": "tracer.cli.report",
    "exposure": "tracer.cli.reports",
    "cluster": "tracer.cli.reports",
    "entity": "tracer.cli.reports",
    "ingest-rpc": "tracer.cli.rpc",
    "synth": "tracer.cli.synth",
    "bench": "tracer.cli.synth",
}


def load_commands() -> None:
    """Import every command module (each registers its commands on :data:`cli`)."""
    for module in dict.fromkeys(COMMAND_MODULES.values()):
        import_command(module)


def import_command(module: str) -> None:
    """Import a command module: by ``__import__``, the import statement's own path, which
    ``python -X importtime`` reports (``importlib.import_module`` bypasses it)."""
    __import__(module)


class TracerGroup(click.Group):
    """Maps library errors to clean messages and exit codes (no tracebacks: case data is
    sensitive, and a traceback is not an instruction). Commands are imported when first
    named (:data:`COMMAND_MODULES`)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            import_command(module)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_commands()
        return super().list_commands(ctx)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        argv = list(args)  # kept for provenance (reports record the command line)
        ctx = super().make_context(info_name, args, parent=parent, **extra)
        ctx.meta["tracer.argv"] = argv
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TracerError as exc:
            err = click.ClickException(str(exc))
            err.exit_code = exc.exit_code
            raise err from None
        except OSError as exc:  # never an empty message (was "Error: : None")
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(where + (exc.strerror or str(exc) or repr(exc))) from None
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BaseException as exc:
            # Not the user's input (that arrives as TracerError, exit 2): a bug. Say so, with a
            # distinct code, instead of a traceback or a false "bad input".
            if os.environ.get("TRACER_DEBUG") or not _is_bug(exc):
                raise
            err = click.ClickException(
                f"internal error (a bug in tracer, not a problem with your files): "
                f"{type(exc).__name__}: {exc}. Run again with TRACER_DEBUG=1 to see the "
                "traceback, and please report it."
            )
            err.exit_code = INTERNAL_ERROR_EXIT
            raise err from None


def _is_bug(exc: BaseException) -> bool:
    """An ordinary exception, or a polars panic (a ``BaseException``; polars is only asked
    when it is loaded, so start-up does not import it)."""
    if isinstance(exc, Exception):
        return True
    if "polars" in sys.modules:
        from polars.exceptions import PanicException

        return isinstance(exc, PanicException)
    return False


def err_console() -> Console:
    """Messages, warnings and progress: stderr, so piped output stays clean."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def may_be_terminal(stream: Any) -> bool:
    """Whether rich could call ``stream`` a terminal (then ask it): a tty, or rich's own
    overrides (``TTY_COMPATIBLE=1``, ``FORCE_COLOR``). False means it surely is not, so a
    message shown only on terminals needs no Console, and rich (~0.1 s) is not imported."""
    if os.environ.get("TTY_COMPATIBLE") == "1" or os.environ.get("FORCE_COLOR") is not None:
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream: rich says False too
        return False


def out_console(width: int = 120) -> Console:
    """Tables on stdout, at least ``width`` columns wide (wider on a wider terminal)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, width=max(width, Console().width))


# -- the group -------------------------------------------------------------------------------
@click.group(cls=TracerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracer")
def cli() -> None:
    """Follow laundered crypto funds through on-chain transfer exports.

    \b
    Example:
      tracer follow TWcPbVwXGSiRzDpntvEPqAJat87hsEYmXx \\
        --data fixtures/sample_case/trongrid_scam_wallet.json \\
        --data fixtures/sample_case/trongrid_downstream.json \\
        --labels fixtures/sample_case/labels.csv
    """


def main() -> None:
    """Console entry point."""
    # numba's cache folder: the kernels package picks it when first imported (keyed by the
    # kernel sources, tracer.kernels.sources_key), so the CLI and library calls share one
    one_blas_thread()
    defer_first_collection()
    try:
        cli(prog_name="tracer")
    except SystemExit as exc:
        quick_exit(exc.code)
        raise


def one_blas_thread() -> None:
    """Start numpy's OpenBLAS with one thread, unless the user chose (``OPENBLAS_NUM_THREADS``).

    Why: OpenBLAS starts a thread per core when numpy is imported, and the new threads spin
    while the process starts: 0.03-0.05 s of CPU and up to 0.1 s of wall on a cold command of
    under a second. tracer never calls BLAS (no matrix products or linear algebra; the kernels
    are numba loops, polars has its own threads), so no result depends on it. Only before
    numpy is imported (it reads the variable once, when it loads); children inherit it, and
    they run tracer too.
    """
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


#: Container objects a command may allocate before the process's first garbage collection
#: (then Python's own thresholds): above what a cold sample follow's start-up keeps (about
#: 150k: numpy, polars, pyarrow, numba and tracer's modules, the first kernels), so it runs no
#: collection at all; a larger command runs one, then collects as usual.
STARTUP_GC_ALLOCATIONS = 250_000


def defer_first_collection() -> None:
    """Hold off the garbage collector while a command starts, until its first collection.

    Why: a command first imports its libraries and loads its kernels, which allocates objects
    that live as long as the process, and Python's collector examines each of them in its
    young generations regardless (about 190 collections on the sample follow, 0.04-0.07 s of a
    cold process of under 1 s) to find no garbage. So the first collection waits for
    :data:`STARTUP_GC_ALLOCATIONS` allocations, and restores Python's thresholds as it starts:
    a long command collects as usual from then on, and the garbage held back is bounded (cycles
    only; everything else is freed by reference counting as always). Nothing is frozen, and
    ``gc.collect()`` works as ever.
    """
    if not gc.isenabled() or gc.get_threshold()[0] >= STARTUP_GC_ALLOCATIONS:
        return  # turned off or tuned by the embedding program: its choice
    usual = gc.get_threshold()

    def first_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and gc.get_threshold()[0] == STARTUP_GC_ALLOCATIONS:
            gc.set_threshold(*usual)  # inert afterwards (not removed while gc iterates)

    gc.callbacks.append(first_collection)
    gc.set_threshold(STARTUP_GC_ALLOCATIONS, *usual[1:])


def quick_exit(code: object) -> None:
    """End the process at once, without the interpreter's teardown, when nothing is left to do.

    Why: after a command has printed its answer, Python's own exit tears down every module and
    collects what numba, llvmlite, polars and pyarrow built: 0.1-0.3 s of CPU on the sample
    follow (a cold process of about 1 s), for nothing the user sees. What a normal exit does
    that matters still happens: the ``atexit`` handlers run (logging, ``weakref.finalize``,
    temporary folders, coverage), stdout and stderr are flushed, open descriptors (and their
    locks) are closed by the kernel. tracer's own files are written atomically and closed
    before they are renamed into place, so no buffered write waits for the teardown.

    Returns, and the caller exits the usual way, when that cannot be vouched for: another
    Python thread is alive (the usual exit would join it), the exit code is not a number (a
    message to print), ``TRACER_DEBUG`` is set, or stdout cannot be flushed (a closed pipe:
    Python reports that itself).
    """
    threading = sys.modules.get("threading")
    if os.environ.get("TRACER_DEBUG") or not (code is None or isinstance(code, int)):
        return
    if threading is not None and threading.active_count() > 1:
        return
    if not _flushed():
        return
    import atexit

    atexit._run_exitfuncs()
    os._exit((code or 0) if _flushed() else EXIT_FLUSH_FAILED)


#: Python's own exit status when flushing stdout fails at exit (``Py_FinalizeEx``).
EXIT_FLUSH_FAILED = 120


def _flushed() -> bool:
    """Flush stdout and stderr; False if either cannot be (a closed pipe, a closed stream)."""
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return False
    return True
