"""The editor's HTTP API in-process: the same diagnostics as `ivr check` for the buffer,
drawings from `ivr draw`'s model, completion words from the schema and project, saves
guarded by version tags, sign-in, roles and the request guards."""

from __future__ import annotations

from pathlib import Path

import pytest
from editor_support import HEADERS, accounts_context, client, copy_flows, local_context

from ivr.flowlang.project import load_project


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return copy_flows(tmp_path / "a-folder")  # a hyphen: Graphviz writes it as &#45;


async def test_a_misspelt_node_id_is_reported_at_its_line_with_the_checkers_hint(
    folder: Path, tmp_path: Path
) -> None:
    text = (folder / "orders.yaml").read_text(encoding="utf-8")
    broken = text.replace("next: ask_side", "next: ask_sdie", 1)
    line = broken[: broken.index("ask_sdie")].count("\n") + 1
    async with client(local_context(folder, tmp_path)) as http:
        response = await http.post(
            "/api/check", json={"file": "orders.yaml", "text": broken}, headers=HEADERS
        )
    body = response.json()
    [diagnostic] = body["diagnostics"]
    assert (diagnostic["code"], diagnostic["line"], diagnostic["file"]) == ("FL301", line, "orders.yaml")
    assert diagnostic["hint"] == "did you mean 'ask_side'?"
    assert body["flow"] == "orders" and (folder / "orders.yaml").read_text(encoding="utf-8") == text


async def test_the_buffer_is_checked_with_the_rest_of_the_project(folder: Path, tmp_path: Path) -> None:
    """A subflow naming a flow the project lacks is only an error in a whole-project check."""
    text = (folder / "main.yaml").read_text(encoding="utf-8").replace("flow: quotes", "flow: quotez", 1)
    (folder / "scratch.yaml").write_text(text.replace("flow: main", "flow: scratch", 1), encoding="utf-8")
    _, expected = load_project([folder])
    async with client(local_context(folder, tmp_path)) as http:
        response = await http.post("/api/check", json={"file": "main.yaml", "text": text}, headers=HEADERS)
    codes = [d["code"] for d in response.json()["diagnostics"]]
    assert codes and codes == [d.code for d in expected if d.span.file.endswith("scratch.yaml")]


async def test_the_outline_spans_each_nodes_yaml(folder: Path, tmp_path: Path) -> None:
    text = (folder / "orders.yaml").read_text(encoding="utf-8")
    async with client(local_context(folder, tmp_path)) as http:
        body = (
            await http.post("/api/check", json={"file": "orders.yaml", "text": text}, headers=HEADERS)
        ).json()
    lines = text.split("\n")
    outline = {n["id"]: n for n in body["outline"]}
    assert lines[outline["ask_market"]["line"] - 1].strip() == "ask_market:"
    assert lines[outline["shanghai"]["end_line"] - 1].strip() == "next: ask_side"
    assert body["names"]["nodes"]["ask_market"] == "menu"
    assert "get_quote" in body["names"]["operations"] and "quotes" in body["names"]["flows"]


async def test_the_drawing_is_svg_with_every_node_and_no_server_paths(folder: Path, tmp_path: Path) -> None:
    text = (folder / "orders.yaml").read_text(encoding="utf-8")
    async with client(local_context(folder, tmp_path)) as http:
        response = await http.post("/api/draw", json={"file": "orders.yaml", "text": text}, headers=HEADERS)
    assert response.headers["content-type"] == "image/svg+xml"
    svg = response.text
    assert "<title>ask_market</title>" in svg and "<title>confirm_order</title>" in svg
    assert str(folder) not in svg.replace("&#45;", "-") and "orders (orders.yaml)" in svg


async def test_a_text_that_is_no_flow_has_no_drawing(folder: Path, tmp_path: Path) -> None:
    async with client(local_context(folder, tmp_path)) as http:
        response = await http.post(
            "/api/draw", json={"file": "orders.yaml", "text": "flow: [\n"}, headers=HEADERS
        )
    assert response.status_code == 400 and response.json()["error"] == "no_flow"


async def test_the_schema_words_come_from_the_flow_schema(folder: Path, tmp_path: Path) -> None:
    async with client(local_context(folder, tmp_path)) as http:
        schema = (await http.get("/api/schema")).json()
    assert set(schema["kinds"]) >= {"menu", "collect", "lookup", "subflow", "hangup"}
    assert schema["kinds"]["menu"]["keys"]["on_no_input"]["value"] == "edge"
    assert schema["kinds"]["lookup"]["keys"]["operation"]["value"] == "operations"
    assert "digits" in schema["formatters"] and "len" in schema["functions"]


async def test_explain_gives_the_catalogue_text(folder: Path, tmp_path: Path) -> None:
    async with client(local_context(folder, tmp_path)) as http:
        entry = (await http.get("/api/explain/fl301")).json()
        missing = await http.get("/api/explain/FL3011")
    assert entry["code"] == "FL301" and entry["text"].startswith("FL301") and "fix" in entry["text"].lower()
    assert missing.status_code == 404


async def test_save_round_trips_and_a_stale_version_is_refused(folder: Path, tmp_path: Path) -> None:
    async with client(local_context(folder, tmp_path)) as http:
        opened = await http.get("/api/files/orders.yaml")
        etag = opened.headers["etag"]
        text = opened.json()["text"] + "# a note\n"
        saved = await http.put(
            "/api/files/orders.yaml", content=text.encode(), headers={**HEADERS, "If-Match": etag}
        )
        again = await http.put(
            "/api/files/orders.yaml", content=b"flow: lost\n", headers={**HEADERS, "If-Match": etag}
        )
        unversioned = await http.put("/api/files/orders.yaml", content=b"flow: lost\n", headers=HEADERS)
    assert saved.status_code == 200 and (folder / "orders.yaml").read_text(encoding="utf-8") == text
    assert again.status_code == 412 and again.json()["current"] == saved.json()["version"]
    assert unversioned.status_code == 428


@pytest.mark.parametrize(
    "url",
    ["/api/files/..%2F..%2Fetc%2Fpasswd", "/api/files/%2e%2e/secret.yaml", "/api/files/%252e%252e/x.yaml"],
)
async def test_a_path_outside_the_project_is_refused_and_nothing_is_written(
    folder: Path, tmp_path: Path, url: str
) -> None:
    (tmp_path / "secret.yaml").write_text("keep: me\n", encoding="utf-8")
    async with client(local_context(folder, tmp_path)) as http:
        read = await http.get(url)
        write = await http.put(url, content=b"owned: true\n", headers={**HEADERS, "If-None-Match": "*"})
        check = await http.post("/api/check", json={"file": "../secret.yaml", "text": "x"}, headers=HEADERS)
    assert read.status_code == write.status_code == check.status_code == 403
    assert read.json()["error"] == "path_refused"
    assert (tmp_path / "secret.yaml").read_text(encoding="utf-8") == "keep: me\n"


async def test_without_the_token_nothing_is_served(folder: Path, tmp_path: Path) -> None:
    context = local_context(folder, tmp_path)
    async with client(context, sign_in=False) as http:
        assert (await http.get("/api/files")).status_code == 401
        assert (await http.get("/?token=wrong")).status_code == 401
        assert (await http.get("/api/files/orders.yaml")).status_code == 401


async def test_state_changes_need_the_editor_header(folder: Path, tmp_path: Path) -> None:
    async with client(local_context(folder, tmp_path)) as http:
        response = await http.post("/api/check", json={"file": "orders.yaml", "text": ""})
    assert response.status_code == 403 and response.json()["error"] == "csrf"


async def test_the_local_editor_answers_only_to_loopback_names(folder: Path, tmp_path: Path) -> None:
    async with client(local_context(folder, tmp_path)) as http:
        response = await http.get("/api/me", headers={"Host": "attacker.example"})
    assert response.status_code == 400


async def test_every_response_carries_a_strict_content_security_policy(folder: Path, tmp_path: Path) -> None:
    async with client(local_context(folder, tmp_path)) as http:
        response = await http.get("/api/me")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


async def test_an_oversized_body_is_refused(folder: Path, tmp_path: Path) -> None:
    async with client(local_context(folder, tmp_path)) as http:
        response = await http.post(
            "/api/check",
            content=b"{" + b" " * 5_200_000 + b"}",
            headers={**HEADERS, "Content-Type": "application/json"},
        )
    assert response.status_code == 413


async def test_an_author_cannot_publish_and_a_publisher_can(folder: Path, tmp_path: Path) -> None:
    context = accounts_context(folder, tmp_path)
    async with client(context) as http:
        wrong = await http.post("/api/login", json={"name": "alice", "password": "nope"}, headers=HEADERS)
        assert wrong.status_code == 401
        await http.post("/api/login", json={"name": "alice", "password": "alice-pw"}, headers=HEADERS)
        refused = await http.post("/api/publish", json={"note": "try"}, headers=HEADERS)
        await http.post("/api/logout", headers=HEADERS)
        await http.post("/api/login", json={"name": "pat", "password": "pat-pw"}, headers=HEADERS)
        published = await http.post("/api/publish", json={"note": "first"}, headers=HEADERS)
        versions = (await http.get("/api/versions")).json()["versions"]
    assert refused.status_code == 403 and refused.json()["error"] == "not_allowed"
    assert published.status_code == 200 and published.json()["published"]["author"] == "pat"
    assert [(v["id"], v["author"], v["current"]) for v in versions] == [("v1", "pat", True)]


async def test_publishing_a_project_with_errors_is_refused_with_the_diagnostics(
    folder: Path, tmp_path: Path
) -> None:
    path = folder / "orders.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("next: ask_side", "next: nowhere", 1), encoding="utf-8"
    )
    async with client(local_context(folder, tmp_path)) as http:
        response = await http.post("/api/publish", json={}, headers=HEADERS)
        versions = (await http.get("/api/versions")).json()["versions"]
    body = response.json()
    assert response.status_code == 400 and body["error"] == "refused"
    assert [(d["code"], d["file"]) for d in body["diagnostics"]] == [("FL301", "orders.yaml")]
    assert versions == []


async def test_tests_run_against_the_buffer_and_report_coverage(folder: Path, tmp_path: Path) -> None:
    text = (folder / "quotes.yaml").read_text(encoding="utf-8")
    changed = text.replace("请输入六位证券代码", "请输入证券代码", 1)
    async with client(local_context(folder, tmp_path)) as http:
        clean = (await http.post("/api/tests/run", json={}, headers=HEADERS)).json()
        broken = (
            await http.post("/api/tests/run", json={"file": "quotes.yaml", "text": changed}, headers=HEADERS)
        ).json()
    assert clean["failed"] == 0 and clean["passed"] >= 50
    assert set(clean["coverage"]["orders"]["nodes"]) == set(clean["coverage"]["orders"]["all_nodes"])
    assert broken["failed"] >= 1
    assert any("quotes" in r["file"] and not r["passed"] for r in broken["results"])
