"""Command line: `python -m integration ...` (also installed as `integration`).

One module per command group, each registering on the `cli` group of `base.py`:
`service` (run, db, config), `inbox` (worker, inbox, ticket), `sla` (compute, classify,
overrides), `zoho` (check, webhook, views), `status` (one screen for ops), `report` (the
compliance report) and `adopt` (the portal's open tickets). Errors a person can fix (a bad
setting, a bad argument) print one line on stderr and exit 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from sqlalchemy.exc import DBAPIError

from ..config import ConfigError
from . import (  # noqa: F401  (each registers its commands)
    adopt,
    inbox,
    report,
    service,
    sla,
    status,
    zoho,
)
from .base import UserError, cli

__all__ = ["UserError", "cli", "main"]


def main(argv: Sequence[str] | None = None, **overrides: Any) -> int:
    """The entry point. `overrides` (a clock, fakes) reach every container a command builds,
    as they would reach `create_app`."""
    context: dict[str, Any] = {"overrides": overrides}
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            standalone_mode=False,
            prog_name="integration",
            obj=context,
        )
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    except DBAPIError as exc:  # the database cannot be reached or refuses: say where and why
        click.echo(f"error: {_database_problem(exc, context)}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code
    return result if isinstance(result, int) else 0


def _database_problem(exc: DBAPIError, context: dict[str, Any]) -> str:
    """One line naming the database (its password hidden) and the driver's reason."""
    from ..db import describe_error
    from .base import safe_url

    settings = context.get("settings")
    url = settings.database_url if settings is not None else None
    where = f"database {safe_url(url)}" if url else "database"
    return f"{where}: {describe_error(exc, url)}"
