"""`ivr check` of a hosting file: the file itself, each tenant against it, and the tenants
against each other (FL8xx), each problem at its place."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from tenants_support import HANGUP_FLOW, hosting_file, tenant_folder, write

from ivr.adapters.hosting.plan import HostingPlan, hosting_file_of, plan_folder, plan_hosting
from ivr.flowlang.diagnostics import Diagnostic, Severity
from ivr.flowlang.hostingfile import load_hosting_text

ROOT = Path(__file__).parents[2]


def codes(plan: HostingPlan) -> list[tuple[str, str, int]]:
    """(code, file name, line) of every warning and error."""
    return [
        (d.code, Path(d.span.file).name, d.span.line)
        for d in plan.diagnostics
        if d.severity >= Severity.WARNING
    ]


def only(plan: HostingPlan, code: str) -> Diagnostic:
    found = [d for d in plan.diagnostics if d.code == code]
    assert len(found) == 1, plan.diagnostics
    return found[0]


def two_tenants(
    tmp_path: Path, beta_flows: dict[str, str] | None = None, beta_service: str = ""
) -> HostingPlan:
    tenant_folder(tmp_path, "alpha", {"100": "main"}, service_extra="queues:\n  desk: {skills: [desk]}\n")
    tenant_folder(
        tmp_path,
        "beta",
        {"200": "main"},
        flows=beta_flows,
        service_extra=beta_service,
    )
    hosting_file(
        tmp_path,
        """\
        alpha: {folder: alpha, numbers: ["100"]}
        beta: {folder: beta, numbers: ["200"]}
        """,
    )
    return plan_hosting(tmp_path / "hosting.yaml")


def test_a_clean_hosting_file_checks_every_tenant(tmp_path: Path) -> None:
    plan = two_tenants(tmp_path)
    assert plan.diagnostics == []
    assert sorted(plan.tenants) == ["alpha", "beta"]
    assert plan.tenants["beta"].numbers == ("200",)
    assert hosting_file_of(tmp_path) == tmp_path / "hosting.yaml"
    assert hosting_file_of(tmp_path / "alpha") is None


def test_the_shipped_hosting_file_is_clean() -> None:
    plan = plan_hosting(ROOT / "hosting.yaml")
    assert [d for d in plan.diagnostics if d.severity >= Severity.WARNING] == []
    assert sorted(plan.tenants) == ["bank", "brokerage", "fund"]


def test_a_tenant_is_a_folder_or_a_package_never_both_or_neither() -> None:
    text = 'hosting: h\ntenants:\n  a: {numbers: ["1"]}\n  b: {folder: x, package: y, numbers: ["2"]}\n'
    _, found = load_hosting_text(text, "hosting.yaml")
    assert [(d.code, d.span.line, "neither" in d.message) for d in found] == [
        ("FL801", 3, True),
        ("FL801", 4, False),
    ]


def test_a_number_is_leased_to_one_tenant() -> None:
    text = (
        'hosting: h\ntenants:\n  a: {folder: a, numbers: ["1"]}\n  b: {folder: b, numbers: ["2",\n    "1"]}\n'
    )
    _, found = load_hosting_text(text, "hosting.yaml")
    assert [(d.code, d.span.line, d.span.col) for d in found] == [("FL802", 5, 5)]
    assert "tenant 'a'" in found[0].message


def test_time_zone_tokens_and_names_are_checked() -> None:
    text = (
        "hosting: h\ntimezone: Beijing\noperator: {token_sha256: abc}\n"
        'tenants:\n  Bad_Name: {folder: a, numbers: ["1"], seats: {calls: 0}, colour: red}\n'
    )
    _, found = load_hosting_text(text, "hosting.yaml")
    assert ("FL803", 2) in [(d.code, d.span.line) for d in found]
    lines = sorted(d.span.line for d in found if d.code.startswith("FL1"))
    assert lines == [3, 5, 5, 5]  # the token's form, the tenant's name, calls >= 1, an unknown field


def test_overflow_needs_both_a_flow_and_a_quota() -> None:
    text = (
        "hosting: h\ntenants:\n"
        '  a: {folder: a, numbers: ["1"], seats: {calls: 2, overflow: 1}}\n'
        '  b: {folder: b, numbers: ["2"], overflow_flow: busy}\n'
    )
    _, found = load_hosting_text(text, "hosting.yaml")
    assert [(d.code, d.severity, d.span.line) for d in found] == [
        ("FL815", Severity.WARNING, 3),
        ("FL815", Severity.WARNING, 4),
    ]


def test_a_missing_folder_or_package_is_reported_at_the_tenant(tmp_path: Path) -> None:
    hosting_file(
        tmp_path,
        """\
        a: {folder: nowhere, numbers: ["1"]}
        b: {package: no_such_module_installed, numbers: ["2"]}
        """,
    )
    plan = plan_hosting(tmp_path / "hosting.yaml")
    assert codes(plan) == [("FL804", "hosting.yaml", 3), ("FL804", "hosting.yaml", 4)]
    assert "entry points of ivr.modules: " in plan.diagnostics[1].message
    assert plan.tenants["a"].source is None


def test_numbers_must_match_between_the_lease_and_the_service(tmp_path: Path) -> None:
    tenant_folder(tmp_path, "alpha", {"100": "main", "200": "main"})
    tenant_folder(tmp_path, "beta", {"300": "main"})
    hosting_file(
        tmp_path,
        """\
        alpha: {folder: alpha, numbers: ["100", "101"]}
        beta: {folder: beta, numbers: ["200", "300"]}
        """,
    )
    plan = plan_hosting(tmp_path / "hosting.yaml")
    assert sorted(codes(plan)) == [
        ("FL805", "service.yaml", 5),
        ("FL806", "hosting.yaml", 3),
        ("FL806", "hosting.yaml", 4),
    ]
    assert "leases to tenant 'beta'" in only(plan, "FL805").message


def test_a_tenant_cannot_name_another_tenants_flows_operations_or_queues(tmp_path: Path) -> None:
    thief = """\
        flow: main
        languages: [en]
        start: borrow
        nodes:
          borrow: {type: subflow, flow: main_menu, next: look}
          look:
            type: lookup
            operation: balance
            next: wait
            on_error: wait
          wait: {type: enqueue, queue: desk, next: bye, on_overflow: bye, on_timeout: bye, on_no_agents: bye}
          bye: {type: hangup, prompt: {en: Bye.}}
        """
    alpha_service = (
        "queues:\n  desk: {skills: [desk]}\n"
        "operations:\n  balance: {backend: http, url: 'http://127.0.0.1:9/b', params: [], returns: [x]}\n"
    )
    tenant_folder(tmp_path, "alpha", {"100": "main"}, service_extra=alpha_service)
    write(tmp_path / "alpha" / "menu.yaml", HANGUP_FLOW.format(name="main_menu", tenant="alpha"))
    tenant_folder(tmp_path, "beta", {"200": "main"}, flows={"main": thief})
    hosting_file(
        tmp_path,
        """\
        alpha: {folder: alpha, numbers: ["100"]}
        beta: {folder: beta, numbers: ["200"]}
        """,
    )
    plan = plan_hosting(tmp_path / "hosting.yaml")
    foreign = [(d.code, d.span.line, d.message.split(";")[0]) for d in plan.diagnostics if d.is_error]
    assert foreign == [
        ("FL807", 5, "'main_menu' is a flow of tenant 'alpha'"),
        ("FL807", 8, "'balance' is a operation of tenant 'alpha'"),
        ("FL807", 11, "'desk' is a queue of tenant 'alpha'"),
    ]  # and no FL606 / FL601 / FL603 for the same names: one error per mistake


def test_files_stay_inside_the_tenant_and_python_comes_only_from_its_module(tmp_path: Path) -> None:
    escape = """\
        flow: main
        languages: [en]
        start: hello
        nodes:
          hello: {type: say, prompt: {en: {audio: ../alpha/secret.wav, text: Hi}}, next: bye}
          bye: {type: hangup, prompt: {en: Bye.}}
        """
    write(tmp_path / "alpha" / "secret.wav", "RIFF")
    service = (
        "operations:\n"
        "  steal: {backend: sql, database: ../alpha/data.sqlite3, query: 'SELECT 1',\n"
        "          params: [], returns: [x]}\n"
        "  run: {backend: python, function: 'os:getcwd', params: [], returns: [x]}\n"
    )
    plan = two_tenants(tmp_path, beta_flows={"main": escape}, beta_service=service)
    assert sorted(codes(plan)) == [
        ("FL808", "main.yaml", 5),
        ("FL808", "service.yaml", 6),
        ("FL809", "service.yaml", 8),
    ]


def test_a_module_that_cannot_load_or_lacks_an_operation_is_reported_at_the_service(tmp_path: Path) -> None:
    write(tmp_path / "beta" / "module.py", "raise RuntimeError('broken on import')\n")
    service = "module: module.py\noperations:\n  fetch: {backend: module, params: [card], returns: [x]}\n"
    plan = two_tenants(tmp_path, beta_service=service)
    failed = only(plan, "FL810")
    assert (Path(failed.span.file).name, failed.span.line) == ("service.yaml", 5)
    assert "RuntimeError: broken on import" in failed.message

    write(
        tmp_path / "beta" / "module.py",
        "from ivr.runtime.modules import Module\n"
        "def fetch(ctx, account): return {}\n"
        "module = Module('beta', operations={'fetch': fetch})\n",
    )
    write(
        tmp_path / "beta" / "service.yaml",
        'service: beta\nlanguages: [en]\nnumbers: {"200": main}\nmodule: module.py\noperations:\n'
        "  fetch: {backend: module, params: [card], returns: [x]}\n"
        "  other: {backend: module, params: [], returns: [x]}\n",
    )
    plan = plan_hosting(tmp_path / "hosting.yaml")
    assert [(d.code, d.span.line) for d in plan.diagnostics] == [("FL811", 6), ("FL811", 7)]
    assert "cannot take (ctx, card)" in plan.diagnostics[0].message
    assert "it has: fetch" in (plan.diagnostics[1].hint or "")


def test_module_operations_need_a_module(tmp_path: Path) -> None:
    service = "operations:\n  fetch: {backend: module, params: [], returns: [x]}\n"
    plan = two_tenants(tmp_path, beta_service=service)
    assert codes(plan) == [("FL811", "service.yaml", 6)]


def test_overflow_flow_and_agents_file_must_exist(tmp_path: Path) -> None:
    tenant_folder(tmp_path, "alpha", {"100": "main"})
    hosting_file(
        tmp_path,
        """\
        alpha:
          folder: alpha
          numbers: ["100"]
          seats: {calls: 1, overflow: 1}
          overflow_flow: busy
          agents: agents.yaml
        """,
    )
    plan = plan_hosting(tmp_path / "hosting.yaml")
    assert codes(plan) == [("FL812", "hosting.yaml", 7), ("FL814", "hosting.yaml", 8)]


def test_a_plain_folder_is_one_tenant_named_after_its_service() -> None:
    plan = plan_folder(ROOT / "flows")
    assert plan.diagnostics == []
    brokerage = plan.tenants["brokerage"]
    assert not brokerage.hosted and brokerage.numbers == ("95500",)
    assert brokerage.module is not None and "get_quote" in brokerage.module.operations


scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.text(max_size=12))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
keys = st.sampled_from(
    ["folder", "package", "numbers", "seats", "overflow_flow", "agents", "token_sha256", "settings", "x"]
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["hosting", "timezone", "operator", "tenants", "other"]),
        values | st.dictionaries(st.text(max_size=6), st.dictionaries(keys, values, max_size=5), max_size=3),
        max_size=5,
    )
)
def test_any_hosting_document_gets_diagnostics_never_an_exception(document: dict[str, object]) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    hosting, found = load_hosting_text(text, "hosting.yaml")
    assert hosting is not None or found
    assert all(d.span.file == "hosting.yaml" and d.span.line >= 1 for d in found)
