"""Tenant modules: finding them, checking them against a service, and running their life.

Place: between the module API (`ivr.runtime.modules`, what tenant code implements) and the
tenants' runtime (`ivr.adapters.hosting.tenants`). A service file names its module with
`module:`, one of:

- `bank_cards`: an entry point of the group `ivr.modules` (an installed package);
- `package.module:attribute`: an importable Python path;
- `module.py`: a file beside the service file, loaded under a private name (it may not
  import its neighbours: a module larger than one file is a package).

The named object is a `Module` or a function returning one (called once per tenant).
Loading runs tenant code in the server's process: whatever it raises becomes a
`ModuleLoadError` (FL810 for `ivr check`), never a crash. `run_module` runs the lifecycle:
`start` under a time limit, background `tasks` restarted after a pause when they raise,
`stop` shielded under a time limit.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import trio

from ivr.adapters.data import ServiceOperations
from ivr.adapters.data.module import ModuleBinding, signature_problem
from ivr.adapters.errors import ConfigError
from ivr.flowlang.diagnostics import Diagnostic, Severity
from ivr.flowlang.ir import OperationDecl, Service
from ivr.runtime.modules import ENTRY_POINT_GROUP, Module, ModuleContext, Task
from ivr.runtime.ports import DataOperations, OperationError

log = logging.getLogger(__name__)
START_SECONDS = 30.0
STOP_SECONDS = 10.0
RESTART_PAUSES = (1.0, 2.0, 5.0, 15.0, 60.0)  # before restarting a background task that raised


class ModuleLoadError(ConfigError):
    """A tenant's module could not be found or loaded; the message says which and why."""


class ModuleStartError(ConfigError):
    """A tenant's module raised in `start` or did not finish it in time."""


def load_module(reference: str, base_dir: Path, tenant: str = "") -> Module:
    """The `Module` a service's `module:` names (see the module docstring)."""
    try:
        if reference.endswith(".py"):
            found = _from_file(base_dir / reference, tenant)
        elif ":" in reference:
            found = _from_path(reference)
        else:
            found = _from_entry_point(reference)
        module = found() if callable(found) and not isinstance(found, Module) else found
    except ModuleLoadError:
        raise
    except Exception as exc:  # tenant code: anything it raises is its own failure
        raise ModuleLoadError(f"module {reference!r} failed to load: {type(exc).__name__}: {exc}") from exc
    if not isinstance(module, Module):
        raise ModuleLoadError(f"module {reference!r} is a {type(module).__name__}, not an ivr Module")
    return module


def _from_entry_point(name: str) -> object:
    found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        installed = sorted(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))
        raise ModuleLoadError(
            f"no installed package offers module {name!r} (entry points of {ENTRY_POINT_GROUP}: "
            f"{', '.join(installed) or 'none'})"
        )
    return found[0].load()


def _from_path(reference: str) -> object:
    module_name, _, attribute = reference.partition(":")
    target: object = importlib.import_module(module_name)
    for part in attribute.split("."):
        if part.startswith("_") or not hasattr(target, part):
            raise ModuleLoadError(
                f"module {reference!r}: {module_name} has no public attribute {attribute!r}"
            )
        target = getattr(target, part)
    return target


def _from_file(path: Path, tenant: str) -> object:
    if not path.is_file():
        raise ModuleLoadError(f"module file {path} does not exist")
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"_ivr_tenant_module_{tenant or 'anon'}_{digest}".replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModuleLoadError(f"module file {path} cannot be loaded as Python")
    code = importlib.util.module_from_spec(spec)
    sys.modules[name] = code  # dataclasses and pickling look their module up by name
    try:
        spec.loader.exec_module(code)
    except BaseException:
        del sys.modules[name]
        raise
    for attribute in ("create", "module"):
        if hasattr(code, attribute):
            return getattr(code, attribute)
    raise ModuleLoadError(f"module file {path} defines neither `create()` nor `module`")


def module_diagnostics(
    service: Service | None, base_dir: Path, tenant: str = "", *, preloaded: Module | None = None
) -> tuple[Module | None, list[Diagnostic]]:
    """Load the service's module (or take `preloaded`, a package tenant's own) and check its
    `backend: module` operations against it (FL810, FL811)."""
    if service is None:
        return preloaded, []
    wanted = [op for op in service.operations.values() if op.backend == "module"]
    module = preloaded
    if module is None and service.module is None:
        return None, [
            Diagnostic(
                "FL811",
                Severity.ERROR,
                f"operation '{op.name}' uses `backend: module` but the service names no module",
                op.span,
                "add `module: <entry point, package.module:attribute or file.py>` to the service file",
            )
            for op in wanted
        ]
    if module is None:
        assert service.module is not None
        try:
            module = load_module(service.module, base_dir, tenant)
        except ModuleLoadError as exc:
            span = service.module_span or service.span
            return None, [Diagnostic("FL810", Severity.ERROR, str(exc), span, "see `ivr explain FL810`")]
    return module, list(_operation_problems(module, wanted))


def _operation_problems(module: Module, wanted: list[OperationDecl]) -> Iterator[Diagnostic]:
    for op in wanted:
        name = str(op.config.get("function", op.name))
        function = module.operations.get(name)
        if function is None:
            known = ", ".join(sorted(module.operations)) or "none"
            message = f"module {module.name!r} has no operation {name!r}"
            yield Diagnostic("FL811", Severity.ERROR, message, op.span, f"it has: {known}")
        elif problem := signature_problem(function, op.params):
            yield Diagnostic("FL811", Severity.ERROR, f"{module.name}:{name} {problem}", op.span)


@asynccontextmanager
async def run_module(
    module: Module,
    ctx: ModuleContext,
    *,
    start_seconds: float | None = None,
    stop_seconds: float | None = None,
) -> AsyncIterator[None]:
    """The module's life: its data directory made, `start` awaited (within `start_seconds`,
    else `ModuleStartError`), its tasks run beside the block, then `stop` (shielded)."""
    start_seconds = START_SECONDS if start_seconds is None else start_seconds
    stop_seconds = STOP_SECONDS if stop_seconds is None else stop_seconds
    await trio.to_thread.run_sync(lambda: ctx.data_dir.mkdir(parents=True, exist_ok=True))
    if module.start is not None:
        try:
            with trio.fail_after(start_seconds):
                await module.start(ctx)
        except trio.TooSlowError as exc:
            raise ModuleStartError(
                f"module {module.name!r} did not start within {start_seconds:g} s"
            ) from exc
        except Exception as exc:
            raise ModuleStartError(
                f"module {module.name!r} failed to start: {type(exc).__name__}: {exc}"
            ) from exc
    try:
        async with trio.open_nursery() as nursery:
            for task in module.tasks:
                nursery.start_soon(_keep_running, task, ctx, module.name)
            try:
                yield
            finally:
                nursery.cancel_scope.cancel()
    finally:
        if module.stop is not None:
            with trio.CancelScope(shield=True), trio.move_on_after(stop_seconds) as late:
                try:
                    await module.stop(ctx)
                except Exception:
                    ctx.log.exception("module %s: stop failed", module.name)
            if late.cancelled_caught:
                ctx.log.error("module %s: stop did not finish within %g s", module.name, stop_seconds)


async def _keep_running(task: Task, ctx: ModuleContext, name: str) -> None:
    """Run a background task; when it raises, log it and start it again after a pause."""
    failures = 0
    while True:
        try:
            await task(ctx)
        except Exception:
            pause = RESTART_PAUSES[min(failures, len(RESTART_PAUSES) - 1)]
            ctx.log.exception("module %s: task %s failed; restarting in %g s", name, _name(task), pause)
            failures += 1
            await trio.sleep(pause)
            continue
        ctx.log.info("module %s: task %s ended", name, _name(task))
        return


def _name(task: Task) -> str:
    return getattr(task, "__qualname__", None) or getattr(task, "__name__", None) or repr(task)


def module_context(
    tenant: str, data_dir: Path, settings: Mapping[str, object] | None = None
) -> ModuleContext:
    """The context a tenant's module gets."""
    return ModuleContext(tenant, data_dir, dict(settings or {}), logging.getLogger(f"ivr.tenant.{tenant}"))


@asynccontextmanager
async def open_service_operations(
    service: Service,
    *,
    base_dir: Path,
    data_dir: Path,
    module: Module | None = None,
    tenant: str = "",
    settings: Mapping[str, object] | None = None,
    tasks: bool = True,
) -> AsyncIterator[DataOperations]:
    """A service's operations with its module running (`ivr simulate`, tests): the module is
    loaded (unless given), started in `data_dir`, its tasks run (unless `tasks` is False),
    and its `backend: module` operations bound; everything is stopped and closed on exit."""
    name = tenant or service.name
    if module is None and service.module is not None:
        module = load_module(service.module, base_dir, name)
    if module is not None and not tasks:
        module = replace(module, tasks=())
    ctx = module_context(name, data_dir, settings)
    async with AsyncExitStack() as stack:
        binding = None
        if module is not None:
            await stack.enter_async_context(run_module(module, ctx))
            binding = ModuleBinding(module.name, module.operations, ctx)
        if not service.operations:
            yield _NoOperations()
            return
        operations = ServiceOperations.from_service(service, base_dir=base_dir, module=binding)
        yield await stack.enter_async_context(operations)


class _NoOperations:
    async def invoke(self, name: str, args: Mapping[str, object]) -> object:
        raise OperationError(f"operation {name!r} is not declared in the service")
