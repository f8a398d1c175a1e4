"""Builders for hosting folders in tests: small tenants written into a temporary folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

HANGUP_FLOW = """\
flow: {name}
languages: [en]
start: hello
nodes:
  hello: {{type: say, prompt: {{en: "Hello from {tenant}."}}, next: bye}}
  bye: {{type: hangup, prompt: {{en: Goodbye.}}}}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def tenant_folder(
    root: Path,
    name: str,
    numbers: dict[str, str],
    *,
    flows: dict[str, str] | None = None,
    service_extra: str = "",
) -> Path:
    """A folder tenant: service.yaml routing `numbers`, plus `flows` (name -> YAML; default: a
    `main` that greets and hangs up)."""
    folder = root / name
    routes = "".join(f'  "{number}": {flow}\n' for number, flow in numbers.items())
    write(folder / "service.yaml", f"service: {name}\nlanguages: [en]\nnumbers:\n{routes}{service_extra}")
    for flow, text in (flows or {"main": HANGUP_FLOW.format(name="main", tenant=name)}).items():
        write(folder / f"{flow}.yaml", text)
    return folder


def hosting_file(root: Path, tenants: str, extra: str = "") -> Path:
    """`root/hosting.yaml` with the given `tenants:` block (indented YAML text)."""
    body = textwrap.indent(textwrap.dedent(tenants), "  ")
    return write(root / "hosting.yaml", f"hosting: test\n{extra}tenants:\n{body}")
