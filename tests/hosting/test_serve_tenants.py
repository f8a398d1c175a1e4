"""`ivr serve --hosting` with the example tenants on real SIP: sipp calls to the brokerage,
the bank (its installed wheel, its card service running beside) and the fund company at once
are answered by their own flows; a tenant whose module fails to start gets 503 alone; a flow
change published to one tenant while sipp loads all three drops no call, and no call switches
version mid-call."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio
from hosting_support import ROOT, Server, SippRun, free_tcp_port, free_udp_port, start_caller
from sip_support import _background, _run, sipp_binary

from ivr.adapters.hosting.auth import token_digest
from ivr.adapters.hosting.versions import snapshot

OPERATOR = "e2e-operator-token"
FUND = ROOT / "tenants" / "fund"
WELCOME = {
    "95500": "欢迎致电95500证券客户服务热线",
    "96688": "欢迎致电银行信用卡及借记卡服务热线",
    "40066": "欢迎致电基金客户服务热线",
}
V2_WELCOME = "欢迎致电基金客户服务热线（新版）"
LOAD = Path(__file__).parent / "scenarios" / "uac_call.xml"


@pytest.fixture(scope="module")
def card_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_tcp_port()
    db = tmp_path_factory.mktemp("cards") / "cards.sqlite3"
    service = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "bank-card-service"), "--port", str(port), "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        service.terminate()
        service.wait(10)


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory, tts_cache: Path, card_service: str) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("hosting")
    broken = root / "broken"
    broken.mkdir()
    (broken / "service.yaml").write_text(
        'service: broken\nmodule: module.py\nlanguages: [en]\nnumbers: {"4444": main}\n', encoding="utf-8"
    )
    (broken / "main.yaml").write_text(
        "flow: main\nlanguages: [en]\nstart: bye\nnodes:\n  bye: {type: hangup, prompt: {en: Bye.}}\n",
        encoding="utf-8",
    )
    (broken / "module.py").write_text(
        "from ivr.runtime.modules import Module\n\nasync def start(ctx):\n"
        "    raise ConnectionError('back office unreachable')\n\nmodule = Module('broken', start=start)\n",
        encoding="utf-8",
    )
    hosting = root / "hosting.yaml"
    hosting.write_text(
        f"hosting: e2e\noperator: {{token_sha256: {token_digest(OPERATOR)}}}\ntenants:\n"
        f'  brokerage: {{folder: {ROOT / "flows"}, numbers: ["95500"], settings: {{matching_interval: 0}}}}\n'
        f'  bank: {{package: bank_cards, numbers: ["96688"], seats: {{calls: 60}},\n'
        f'         settings: {{card_service_url: "{card_service}"}}}}\n'
        f'  fund: {{folder: {FUND}, numbers: ["40066"], seats: {{calls: 60, overflow: 2}},\n'
        f"         overflow_flow: busy}}\n"
        f'  broken: {{folder: {broken}, numbers: ["4444"]}}\n',
        encoding="utf-8",
    )
    server = Server.start(root / "data", "--hosting", str(hosting), "--agents", "none", tts=tts_cache)
    yield server
    assert server.stop() == 0, server.output()


async def operator_get(server: Server, path: str) -> dict[str, object]:
    async with httpx.AsyncClient(timeout=10.0, headers={"authorization": f"Bearer {OPERATOR}"}) as client:
        response = await client.get(server.url(path))
    response.raise_for_status()
    return dict(response.json())


def welcomes(server: Server, call_id: str) -> list[str]:
    """The welcome prompts a call heard (the first one and any replay after no key)."""
    return [
        str(detail["text"])
        for kind, node, detail in server.events(call_id)
        if kind == "prompt" and node == "choose_language" and str(detail["text"]).startswith("欢迎")
    ]


async def test_calls_to_three_tenants_at_once_are_answered_by_their_own_flows(
    hosted: Server, tmp_path: Path
) -> None:
    callers = {"95500": "13811110001", "96688": "13811110002", "40066": "13811110003"}
    async with trio.open_nursery() as nursery:
        runs = [
            start_caller(
                nursery,
                hosted,
                "uac_call.xml",
                tmp_path / number,
                number=number,
                keys={"caller": caller, "hold": "2500", "rtp_port": str(free_udp_port())},
            )
            for number, caller in callers.items()
        ]
        refused = start_caller(nursery, hosted, "uac_refused_503.xml", tmp_path / "broken", number="4444")
        for run in [*runs, refused]:
            await run.wait_ok(30)
    tenants = {"95500": "brokerage", "96688": "bank", "40066": "fund"}
    for number, caller in callers.items():
        call = await _ended_call(hosted, caller)
        assert (call["tenant"], call["dialed"], call["version"]) == (tenants[number], number, "v1")
        assert welcomes(hosted, str(call["id"]))[0].startswith(WELCOME[number])
    status = await operator_get(hosted, "/tenants")
    states = {t["name"]: (t["state"], t["reason"]) for t in status["tenants"]}
    assert states["broken"] == (
        "unavailable",
        "module 'broken' failed to start: ConnectionError: back office unreachable",
    )
    assert {states[t][0] for t in ("brokerage", "bank", "fund")} == {"serving"}
    async with httpx.AsyncClient(headers={"authorization": f"Bearer {OPERATOR}"}) as client:
        metrics = (await client.get(hosted.url("/metrics"))).text
    assert 'ivr_calls_rejected_total{reason="tenant_unavailable",tenant="broken"} 1.0' in metrics


async def _ended_call(server: Server, caller: str) -> dict[str, object]:
    with trio.fail_after(10):
        while True:
            for call in (await operator_get(server, "/calls/recent?n=500"))["calls"]:
                if call["caller"] == caller:
                    return dict(call)
            await trio.sleep(0.1)


@pytest.mark.slow
async def test_a_publish_during_a_load_on_all_three_drops_no_call_and_switches_none_mid_call(
    hosted: Server, tmp_path: Path
) -> None:
    sipp = sipp_binary()
    assert sipp is not None
    per_number, rate, hold_ms = 24, 4, 22000  # 6 s of arrivals; each call hears the welcome twice
    loads: list[SippRun] = []
    async with trio.open_nursery() as nursery:
        for number in WELCOME:
            workdir = tmp_path / f"load-{number}"
            workdir.mkdir()
            cmd = [sipp, "-sf", str(LOAD), "-i", "127.0.0.1", "-p", str(free_udp_port()), "-s", number]
            cmd += ["-m", str(per_number), "-r", str(rate), "-l", str(per_number), "-nostdin"]
            cmd += ["-timeout", "90s", "-timeout_error", "-trace_stat", "-key", "hold", str(hold_ms)]
            cmd += ["-key", "caller", f"1390000{number[-4:]}", "-key", "rtp_port", str(free_udp_port())]
            cmd.append(f"127.0.0.1:{hosted.sip_port}")
            loads.append(_background(nursery, _run(cmd, workdir)))
        await trio.sleep(3)  # calls of every tenant are up
        files = {name: data.decode() for name, data in snapshot(FUND).items()}
        files["main.yaml"] = files["main.yaml"].replace("欢迎致电基金客户服务热线", V2_WELCOME)
        async with httpx.AsyncClient(timeout=60.0, headers={"authorization": f"Bearer {OPERATOR}"}) as client:
            published = await client.post(
                hosted.url("/tenants/fund/versions"),
                json={"author": "e2e", "note": "new welcome", "files": files},
            )
        assert published.status_code == 201, published.text
        for run in loads:
            await run.wait_ok(120)  # sipp exits 0 only when every one of its calls succeeded
    query = "SELECT call_id, tenant, version, how FROM calls WHERE caller LIKE '1390000%'"
    for _ in range(200):  # sipp has its 200 for the BYE; the record's end follows
        rows = hosted.db(query)
        if all(how is not None for *_, how in rows):
            break
        await trio.sleep(0.1)
    assert len(rows) == 3 * per_number
    assert {how for *_, how in rows} == {"caller_hangup"}
    fund = [(call_id, version) for call_id, tenant, version, _ in rows if tenant == "fund"]
    assert {version for _, version in fund} == {"v1", "v2"}  # some calls before the publish, some after
    for call_id, version in fund:
        heard = welcomes(hosted, call_id)
        assert len(heard) >= 2, heard  # the welcome, then again after no key: one call, one version
        expected = V2_WELCOME if version == "v2" else WELCOME["40066"]
        assert all(text.startswith(expected) for text in heard), (call_id, version, heard)
    versions = (await operator_get(hosted, "/tenants/fund/versions"))["versions"]
    assert versions[-1]["author"] == "e2e" and versions[-1]["current"]
