"""Publishing a tenant's flows without a restart: check, keep, swap; list, diff, roll back.

Place: the one path every publish takes, whoever asks (`ivr publish`, the HTTP API, the
flow editor later). A publish hands in the files of a version (flows, the service file,
prompts: name -> bytes) with an author and a note, and:

1. stages them in the tenant's store (`versions.Versions`: its folder, `VersionStore`, or
   with a database URL the database the instances share, `ivr.adapters.postgres.versions`);
2. checks them with the full checker, as `ivr check` would check the hosting file with this
   version in place: the flows and service (`load_project`), the tenant's numbers and names
   against the hosting file and the other tenants (`ivr.flowlang.tenancy`), its `backend:
   module` operations against the running module (a version cannot change the module: FL813);
3. refuses with every diagnostic when any is an error (nothing is kept);
4. otherwise keeps it as the next version (id, author, time), has the server prepare it
   (bind its operations, open its outbox: a failure here refuses it too), makes it CURRENT
   and swaps it in: calls in progress finish on the version they started with.

Diagnostics and sources name the files `<tenant>/<path>` as the author knows them, never
the staging folder. A rollback publishes an old version's files again as a new version.

On a shared store every instance `follow`s CURRENT (read every second): a version another
instance made current is checked, prepared and swapped in here as a publish would; one that
cannot be served here is logged once and the tenant keeps the version it serves.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import trio

from ivr.adapters.errors import AdapterError, ConfigError
from ivr.adapters.hosting.modules import module_diagnostics
from ivr.adapters.hosting.plan import TenantPlan
from ivr.adapters.hosting.versions import SOURCE, Version, VersionError, Versions, snapshot
from ivr.flowlang.diagnostics import Diagnostic, Severity, rank
from ivr.flowlang.hostingfile import HostingDecl
from ivr.flowlang.ir import Project
from ivr.flowlang.project import load_project
from ivr.flowlang.tenancy import TenantProject, check_tenants, relocate

log = logging.getLogger(__name__)

FOLLOW_INTERVAL = 1.0  # seconds between two reads of a shared store's CURRENT
Activate = Callable[[str, str, Path, Project], Awaitable[None]]
"""`activate(tenant, version_id, files_folder, project)`: the server prepares and swaps in a
version; raises `ConfigError` when it cannot be served."""


@dataclass(frozen=True)
class Outcome:
    """What a publish, a rollback or a check came to."""

    ok: bool
    version: Version | None = None
    diagnostics: tuple[Diagnostic, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict)
    message: str = ""

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d.is_error)

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "version": self.version.to_json() if self.version else None,
            "message": self.message,
            "errors": self.errors,
            "warnings": sum(1 for d in self.diagnostics if d.severity is Severity.WARNING),
            "diagnostics": [d.to_json() for d in self.diagnostics],
        }


@dataclass(frozen=True)
class Checked:
    project: Project
    diagnostics: list[Diagnostic]
    sources: dict[str, str]

    @property
    def clean(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


class Publisher:
    """Versions of every hosted tenant; `activate` is the server's swap (None: offline)."""

    def __init__(
        self,
        hosting: HostingDecl,
        plans: Mapping[str, TenantPlan],
        stores: Mapping[str, Versions],
        activate: Activate | None = None,
    ) -> None:
        self.hosting = hosting
        self.plans = dict(plans)
        self.stores = dict(stores)
        self.activate = activate
        self.projects: dict[str, Project] = {name: plan.project for name, plan in plans.items()}
        self.current: dict[str, str] = {}
        self._locks = {name: trio.Lock() for name in plans}
        self._refused: dict[str, str] = {}  # tenant -> a CURRENT of another instance not served here

    # -- start-up --------------------------------------------------------------------------
    def startup_version(self, tenant: str) -> tuple[Version, Path, Project] | None:
        """The version a tenant starts with: its folder or package taken in (`take_in`: on
        this instance's folder as a new version when it changed since it was last taken in,
        so an edited folder still wins at a restart; on a shared store only as the first
        version of a tenant that has none), else the CURRENT one; one with errors is skipped
        for the source version (made CURRENT only on this instance's own store). None: no
        usable version (the tenant stays unavailable)."""
        plan, store = self.plans[tenant], self.stores[tenant]
        store.clean_staging()
        if plan.source is not None:
            files = snapshot(plan.source)
            note = f"from {_described(plan)}"
            taken = store.take_in(files, author="ivr serve", note=note) if files else None
            if taken is not None:
                log.info("tenant %s: %s taken in as %s", tenant, _described(plan), taken.id)
        for version in _candidates(store):
            checked = self.check_folder(tenant, store.files_dir(version.id))
            if checked.clean:
                if store.current() != version and not store.shared:
                    store.make_current(version.id)
                self._now_current(tenant, version, checked.project)
                return version, store.files_dir(version.id), checked.project
            log.error(
                "tenant %s: version %s has errors and is not served: %s",
                tenant,
                version.id,
                "; ".join(f"{d.span}: {d.message}" for d in checked.diagnostics if d.is_error)[:2000],
            )
        return None

    # -- checking --------------------------------------------------------------------------
    def check_folder(self, tenant: str, folder: Path) -> Checked:
        """The full check of `folder` as tenant `tenant`'s next version."""
        plan = self.plans[tenant]
        project, diagnostics = load_project([str(folder)])
        others = {
            name: TenantProject(name, self.projects[name], self.plans[name].source or folder)
            for name in self.plans
            if name != tenant
        }
        mine = TenantProject(tenant, project, folder, tuple(diagnostics))
        found = check_tenants(self.hosting, {tenant: mine, **others}, only=tenant)
        found.extend(self._module_problems(plan, project, folder))
        shown = f"{tenant}"
        sources = {_rename(file, folder, shown): text for file, text in project.sources.items()}
        return Checked(project, rank(relocate(found, str(folder), shown)), sources)

    def _module_problems(self, plan: TenantPlan, project: Project, folder: Path) -> list[Diagnostic]:
        service = project.service
        if service is None:
            return []
        wanted = service.module or (plan.decl.package if plan.decl is not None else None)
        if wanted != plan.module_reference:
            span = service.module_span or service.span
            message = f"this version names module {wanted!r}; the tenant runs {plan.module_reference!r}"
            hint = "keep `module:` as it is; new module code needs an install and a restart"
            return [Diagnostic("FL813", Severity.ERROR, message, span, hint)]
        _, found = module_diagnostics(service, folder, plan.name, preloaded=plan.module)
        return found

    # -- publishing ------------------------------------------------------------------------
    async def publish(
        self, tenant: str, files: Mapping[str, bytes], *, author: str, note: str = ""
    ) -> Outcome:
        """Check `files` and, when clean, make them the tenant's current version."""
        return await self._publish(tenant, files, author=author, note=note, origin="publish")

    async def rollback(self, tenant: str, version_id: str, *, author: str, note: str = "") -> Outcome:
        """Publish an old version's files again, as a new version."""
        store = self._store(tenant)
        if store is None:
            return Outcome(False, message=f"no tenant {tenant!r} is published to")
        try:
            files = await trio.to_thread.run_sync(store.read_files, version_id)
        except VersionError as exc:
            return Outcome(False, message=str(exc))
        return await self._publish(
            tenant,
            files,
            author=author,
            note=note or f"rollback to {version_id}",
            origin=f"rollback of {version_id}",
        )

    async def check(self, tenant: str, files: Mapping[str, bytes]) -> Outcome:
        """The diagnostics a publish of `files` would get, keeping nothing."""
        store = self._store(tenant)
        if store is None:
            return Outcome(False, message=f"no tenant {tenant!r} is published to")
        try:
            staged = await trio.to_thread.run_sync(store.stage, files)
        except VersionError as exc:
            return Outcome(False, message=str(exc))
        try:
            checked = await trio.to_thread.run_sync(self.check_folder, tenant, staged / "files")
        finally:
            await trio.to_thread.run_sync(store.discard, staged)
        return Outcome(checked.clean, None, tuple(checked.diagnostics), checked.sources)

    async def _publish(
        self, tenant: str, files: Mapping[str, bytes], *, author: str, note: str, origin: str
    ) -> Outcome:
        store = self._store(tenant)
        if store is None:
            return Outcome(False, message=f"no tenant {tenant!r} is published to")
        if not author.strip():
            return Outcome(False, message="say who publishes (an author)")
        async with self._locks[tenant]:
            try:
                return await self._publish_locked(
                    store, tenant, files, author=author, note=note, origin=origin
                )
            except VersionError as exc:  # refused files, or a shared store out of reach
                return Outcome(False, message=str(exc))

    async def _publish_locked(
        self, store: Versions, tenant: str, files: Mapping[str, bytes], *, author: str, note: str, origin: str
    ) -> Outcome:
        staged = await trio.to_thread.run_sync(store.stage, files)
        try:
            checked = await trio.to_thread.run_sync(self.check_folder, tenant, staged / "files")
            if not checked.clean:
                await trio.to_thread.run_sync(store.discard, staged)
                refused = "the version has errors"
                return Outcome(False, None, tuple(checked.diagnostics), checked.sources, refused)
            version = await trio.to_thread.run_sync(
                lambda: store.commit(staged, author=author, note=note, origin=origin)
            )
        except BaseException:
            await trio.to_thread.run_sync(store.discard, staged)
            raise
        folder = await trio.to_thread.run_sync(store.files_dir, version.id)
        project, _ = await trio.to_thread.run_sync(load_project, [str(folder)])
        if self.activate is not None:
            try:
                await self.activate(tenant, version.id, folder, project)
            except ConfigError as exc:
                message = f"{version.id} is kept but not served: {exc}"
                log.error("tenant %s: %s", tenant, message)
                return Outcome(False, version, tuple(checked.diagnostics), checked.sources, message)
        await trio.to_thread.run_sync(store.make_current, version.id)
        self._now_current(tenant, version, project)
        log.info("tenant %s: %s published by %s (%s)", tenant, version.id, version.author, origin)
        return Outcome(True, version, tuple(checked.diagnostics), checked.sources)

    def _now_current(self, tenant: str, version: Version, project: Project) -> None:
        self.projects[tenant] = project
        self.current[tenant] = version.id

    # -- following another instance (a shared store) ---------------------------------------
    async def follow(self, tenant: str, *, interval: float = FOLLOW_INTERVAL) -> None:
        """Until cancelled: every `interval` seconds, serve the version another instance made
        CURRENT (`follow_once`). A store out of reach is logged and read again next time."""
        unreachable = False
        while True:
            await trio.sleep(interval)
            try:
                await self.follow_once(tenant)
            except (AdapterError, OSError) as exc:  # never the server's end: next time again
                if not unreachable:
                    log.warning("tenant %s: the shared versions cannot be read: %s", tenant, exc)
                unreachable = True
            else:
                unreachable = False

    async def follow_once(self, tenant: str) -> Version | None:
        """If CURRENT is not the version this instance serves: check it here as a publish
        would, prepare and install it (calls in progress keep theirs); the version now
        served, or None when nothing changed. A version that fails here is logged once and
        the tenant keeps serving the one it has."""
        store = self.stores[tenant]
        wanted = await trio.to_thread.run_sync(store.current_id)
        if wanted is None or wanted in (self.current.get(tenant), self._refused.get(tenant)):
            return None
        async with self._locks[tenant]:
            if wanted == self.current.get(tenant):  # our own publish, finished meanwhile
                return None
            version = await trio.to_thread.run_sync(store.get, wanted)
            folder = await trio.to_thread.run_sync(store.files_dir, wanted)
            checked = await trio.to_thread.run_sync(self.check_folder, tenant, folder)
            problem = "; ".join(f"{d.span}: {d.message}" for d in checked.diagnostics if d.is_error)
            if not problem and self.activate is not None:
                try:
                    await self.activate(tenant, wanted, folder, checked.project)
                except Exception as exc:  # any failure to prepare: logged, the tenant keeps its version
                    problem = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
            if problem:
                self._refused[tenant] = wanted
                log.error(
                    "tenant %s: %s (made current by %s at another instance) cannot be served here,"
                    " still serving %s: %s",
                    tenant, wanted, version.author, self.current.get(tenant) or "nothing", problem[:2000],
                )  # fmt: skip
                return None
            self._now_current(tenant, version, checked.project)
            log.info("tenant %s: now serving %s, made current at another instance", tenant, wanted)
            return version

    # -- reading ---------------------------------------------------------------------------
    def versions(self, tenant: str) -> list[Version]:
        store = self._store(tenant)
        return store.list() if store is not None else []

    def diff(self, tenant: str, older: str, newer: str) -> str:
        store = self._store(tenant)
        if store is None:
            raise VersionError(f"no tenant {tenant!r} is published to")
        return store.diff(older, newer)

    def files(self, tenant: str, version_id: str) -> dict[str, bytes]:
        """What version `version_id` of `tenant` holds (path -> bytes)."""
        store = self._store(tenant)
        if store is None:
            raise VersionError(f"no tenant {tenant!r} is published to")
        return store.read_files(version_id)

    def _store(self, tenant: str) -> Versions | None:
        return self.stores.get(tenant)


def _candidates(store: Versions) -> list[Version]:
    """CURRENT first, then the latest source version, then the others newest first."""
    versions = store.list()
    current = store.current()
    order = [current] if current else []
    order += [v for v in reversed(versions) if v.origin == SOURCE and v not in order][:1]
    order += [v for v in reversed(versions) if v not in order]
    return order


def _described(plan: TenantPlan) -> str:
    decl = plan.decl
    if decl is not None and decl.package is not None:
        return f"package {decl.package}"
    return f"folder {plan.source}"


def _rename(file: str, folder: Path, shown: str) -> str:
    prefix = str(folder).rstrip("/") + "/"
    return shown + "/" + file.removeprefix(prefix) if file.startswith(prefix) else file
