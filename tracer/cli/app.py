"""The ``tracer`` command line: parse options, call one library function, render.

Errors a user can fix arrive as :class:`tracer.core.errors.TracerError` and are turned into a
one-line message and an exit code here, in one place; nothing else in the package prints or exits.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tracer.core.errors import TracerError
from tracer.core.version import __version__

if TYPE_CHECKING:
    from rich.console import Console

#: Exit code of an unexpected exception (sysexits EX_SOFTWARE): distinct from bad input (2).
INTERNAL_ERROR_EXIT = 70


class TracerGroup(click.Group):
    """Maps library errors to clean messages and exit codes (no tracebacks: case data is
    sensitive, and a traceback is not an instruction)."""

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
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "tracer-numba"))
    cli(prog_name="tracer")
