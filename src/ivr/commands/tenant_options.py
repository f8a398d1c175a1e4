"""`--hosting FILE --tenant NAME`: the flows of one tenant of a hosting file, for the commands
that work on flows (`ivr draw`, `ivr simulate`, `ivr test`).

Not a subcommand: the shared option group and its resolution. A tenant is found through the
hosting file as `ivr serve` finds it (a folder, or the flows an installed package ships),
so a tenant's author runs exactly what will be served.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ivr.flowlang.diagnostics import did_you_mean

if TYPE_CHECKING:
    from ivr.adapters.hosting.layout import TenantLayout
    from ivr.adapters.hosting.plan import TenantPlan

DEFAULT_HOSTING = Path("hosting.yaml")


def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("tenants (with a hosting file)")
    group.add_argument("--tenant", metavar="NAME", help="use this tenant's flows (see --hosting)")
    group.add_argument(
        "--hosting",
        type=Path,
        metavar="FILE",
        help="the hosting file (default: $IVR_HOSTING_FILE, else hosting.yaml)",
    )


def chosen(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "tenant", None))


def resolve(args: argparse.Namespace, command: str) -> TenantPlan | None:
    """The tenant `--tenant` names, or None after printing why not (a usage problem)."""
    from ivr.adapters.hosting.plan import plan_hosting

    hosting = args.hosting or Path(os.environ.get("IVR_HOSTING_FILE") or DEFAULT_HOSTING)
    if not hosting.is_file():
        print(f"ivr {command}: hosting file {hosting} not found (give --hosting FILE)", file=sys.stderr)
        return None
    plan = plan_hosting(hosting)
    tenant = plan.tenants.get(args.tenant)
    if tenant is None:
        names = sorted(plan.tenants)
        hint = did_you_mean(args.tenant, names) or f"its tenants: {', '.join(names) or 'none'}"
        print(f"ivr {command}: {hosting} has no tenant '{args.tenant}'; {hint}", file=sys.stderr)
        return None
    if tenant.source is None:
        print(
            f"ivr {command}: the flows of tenant '{args.tenant}' cannot be found (ivr check {hosting})",
            file=sys.stderr,
        )
        return None
    return tenant


def module_data_dir(args: argparse.Namespace, tenant: TenantPlan | None, name: str) -> Path:
    """Where a module keeps its data: inside `--data-dir` (default `$IVR_DATA_DIR`, else
    `var`) where `ivr serve` keeps it for the same tenant."""
    return layout(args, tenant, name).module_data


def layout(args: argparse.Namespace, tenant: TenantPlan | None, name: str) -> TenantLayout:
    """The tenant's folders (module data, outbox, ...) inside `--data-dir` (default
    `$IVR_DATA_DIR`, else `var`), as `ivr serve` lays them out."""
    from ivr.adapters.hosting.layout import TenantLayout

    base = args.data_dir or Path(os.environ.get("IVR_DATA_DIR") or "var")
    if tenant is not None and tenant.hosted:
        return TenantLayout.hosted(base, tenant.name)
    return TenantLayout.folder(base, name)
