// The agent desktop: log in, ready / not ready, screen pop, hang up, transfer, wrap-up.
// Everything shown is set with textContent (never HTML), and secret-looking fields are
// dropped again here although the server already removed them.
import { renderContext } from "./context-card.js";
import { CtiClient, login } from "./cti.js";

const $ = (id) => document.getElementById(id);
const SECRET = /(^|[^a-z])(pin|pins|password|passwd|passcode|pwd|secret|cvv|cvc|otp|token)([^a-z]|$)|password|passcode/i;
const STATE_TEXT = { ready: "Ready", not_ready: "Not ready", reserved: "Ringing", on_call: "On call",
  wrap_up: "Wrap-up", logged_out: "Logged out" };
let cti = null;
let call = null; // {id, queue, screen, status}
let wrapCall = null;

function notice(text) { $("notice").textContent = text; }
function show(id, visible) { $(id).hidden = !visible; }
function wordsOf(name) { return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2"); }

function setState(state) {
  const badge = $("state");
  badge.textContent = STATE_TEXT[state] || state;
  badge.className = `badge ${state}`;
  badge.dataset.state = state;
  $("ready").disabled = state === "ready" || state === "on_call" || state === "reserved";
  $("not-ready").disabled = state === "not_ready" || state === "on_call" || state === "reserved";
}

function label(key) { return key.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase()); }

function fillScreen(screen) {
  const body = $("screen").tBodies[0];
  body.replaceChildren();
  const rows = (data, prefix) => {
    for (const [key, value] of Object.entries(data)) {
      if (SECRET.test(wordsOf(key))) continue;
      if (value && typeof value === "object" && !Array.isArray(value)) { rows(value, `${prefix}${label(key)} · `); continue; }
      const tr = body.insertRow();
      const th = document.createElement("th");
      th.textContent = prefix + label(key);
      tr.append(th);
      tr.insertCell().textContent = Array.isArray(value) ? value.map((v) => JSON.stringify(v)).join(", ") : String(value ?? "");
      tr.dataset.key = key;
    }
  };
  const { queue, caller, dialed, ivr_context: _context, ...collected } = screen;
  rows(collected, "");
}

function showCall() {
  show("call", !!call); show("idle", !call && !wrapCall); show("wrapup", !!wrapCall);
  if (!call) return;
  const facts = $("call-facts");
  facts.replaceChildren();
  for (const [term, value] of [["Caller", call.screen.caller], ["Dialed", call.screen.dialed], ["Queue", call.queue],
    ["Call id", call.id]]) {
    if (value === undefined) continue;
    const dt = document.createElement("dt"); dt.textContent = term;
    const dd = document.createElement("dd"); dd.textContent = String(value);
    facts.append(dt, dd);
  }
  $("call-status").textContent = call.status;
  $("call-status").className = `badge ${call.status}`;
  renderContext($("ivr-context"), call.screen.ivr_context, document.documentElement.lang || "en");
  fillScreen(call.screen);
  $("hangup").disabled = false;
  $("transfer").querySelector("button").disabled = call.status !== "talking";
}

function onEvent(message) {
  switch (message.event) {
    case "agent_state": setState(message.state); break;
    case "offered":
      call = { id: message.call_id, queue: message.queue, screen: message.screen || {}, status: "ringing" };
      notice(message.transfer ? "Transferred call ringing" : "Incoming call");
      showCall(); break;
    case "connected":
      if (call && call.id === message.call_id) { call.status = "talking"; notice("Talking"); showCall(); }
      break;
    case "ended":
      if (call && call.id === message.call_id) {
        if (message.outcome === "completed") wrapCall = call;
        call = null; notice(`Call ended (${message.outcome.replace("_", " ")})`); showCall();
      }
      break;
    case "queue_stats": fillQueues(message.queues); break;
    case "error": notice(`Server: ${message.error.message}`); break;
  }
}

function fillQueues(queues) {
  const body = $("queues").tBodies[0];
  body.replaceChildren();
  for (const [name, q] of Object.entries(queues)) {
    const tr = body.insertRow();
    for (const value of [name, q.waiting, `${Math.round(q.longest_wait)} s`, q.service_level == null ? "–" : `${q.service_level}%`]) {
      tr.insertCell().textContent = String(value);
    }
  }
}

async function act(promise, done) {
  try { const reply = await promise; if (done) notice(done); return reply; }
  catch (error) { notice(`${error.message}`); return null; }
}

async function start(token) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  cti = new CtiClient(`${scheme}://${location.host}/cti/ws`);
  cti.on("*", onEvent);
  cti.on("closed", () => notice("Disconnected: your calls go on. Reload to reconnect."));
  const { agent } = await cti.connect(token);
  sessionStorage.setItem("cti-token", token);
  $("agent-name").textContent = `${agent.name} (${agent.extension})`;
  show("login", false); show("desk", true); show("who", true);
  showCall();
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    const { token } = await login($("extension").value.trim(), $("password").value);
    $("password").value = "";
    await start(token);
  } catch (error) { $("login-error").textContent = error.message; }
});

$("ready").addEventListener("click", () => act(cti.ready()));
$("not-ready").addEventListener("click", () => act(cti.notReady()));
$("logout").addEventListener("click", async () => {
  if (await act(cti.logout(), "Logged out")) { sessionStorage.removeItem("cti-token"); cti.close(); location.reload(); }
});
$("hangup").addEventListener("click", () => { if (call) act(cti.hangup(call.id), "Hung up"); });
$("transfer").addEventListener("submit", (event) => {
  event.preventDefault();
  if (call) act(cti.transfer(call.id, $("transfer-kind").value, $("transfer-to").value.trim()), "Transferred");
});
$("wrapup").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!wrapCall) return;
  const reply = await act(cti.wrapup(wrapCall.id, $("disposition").value, $("notes").value, $("wrapup-ready").checked),
    "Disposition saved");
  if (reply) { wrapCall = null; $("notes").value = ""; showCall(); }
});

const saved = sessionStorage.getItem("cti-token");
if (saved) start(saved).catch(() => sessionStorage.removeItem("cti-token"));
