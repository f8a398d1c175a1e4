// The agent desktop: log in, ready / not ready (with a reason, or after this call), one card
// per call (caller data, timer, hang-up, hold, mute, keypad, transfer, consult, conference,
// the flows the caller can be sent into, the order form) and one wrap-up form per finished
// call, each naming its call and saving only to it.
// Everything shown is set with textContent (never HTML), and secret-looking fields are
// dropped again here although the server already removed them.
import { renderContext } from "./context-card.js";
import { CtiClient, login } from "./cti.js";
import { errorText, fieldName, fieldValue, language, setLanguage, stateName, t } from "./i18n.js";
import { setupCustomerSearch, setupHistory, showHistory, translateHistory } from "./history.js";
import { facts, setupFlows, setupOrderForm, showFlows, showOrderForm } from "./orders.js";

// Where this desk is mounted: "" for /desktop/, "/tenants/<name>" for a hosted tenant's desk
// (each tenant has its own agents, tokens and socket under its own prefix).
const BASE = location.pathname.replace(/\/desktop(\/.*)?$/, "");
const TOKEN_KEY = `cti-token:${BASE}`;

const $ = (id) => document.getElementById(id);
const SECRET = /(^|[^a-z])(pin|pins|password|passwd|passcode|pwd|secret|cvv|cvc|otp|token)([^a-z]|$)|password|passcode/i;
const FACTS = ["customer", "caller", "channel", "account", "verified", "vip_tier", "language", "queue"];
const HIDDEN = new Set(["dialed", "ivr_context"]); // ivr_context: shown by the IVR context card
let cti = null;
let reasons = ["break", "training", "back_office"];
const desk = { flows: [], orders: null, cti: () => cti }; // what this desk offers (login reply)
const calls = new Map(); // call id -> call (the server's call_state, plus what the card needs)
const wrapups = new Map(); // call id -> its wrap-up form
const chats = new Map(); // call id -> a web chat's state: offered, talking, ended (it may come before "offered")
const agent = { state: "logged_out", reason: null, remaining: null, at: 0, afterCall: null };

function notice(text) { $("notice").textContent = text; }
function wordsOf(name) { return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2"); }
function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

// -- the agent's state ------------------------------------------------------------------------
function showState() {
  const badge = $("state");
  badge.textContent = stateName(agent.state, agent.state === "not_ready" ? agent.reason : null);
  badge.className = `badge ${agent.state}`;
  badge.dataset.state = agent.state;
  const busy = agent.state === "on_call" || agent.state === "reserved";
  $("ready").disabled = agent.state === "ready" || busy;
  $("not-ready").disabled = busy || (agent.state === "not_ready" && agent.reason === $("reason").value);
  $("after-call").disabled = !busy;
  $("after-call").checked = busy && agent.afterCall !== null;
  $("wrapup-bar").hidden = agent.state !== "wrap_up";
  tick();
}

function fillReasons() {
  const select = $("reason");
  const chosen = select.value;
  select.replaceChildren(...reasons.map((reason) => {
    const option = document.createElement("option");
    option.value = reason; option.textContent = t(`reason_${reason}`);
    return option;
  }));
  if (reasons.includes(chosen)) select.value = chosen;
}

// -- calls ---------------------------------------------------------------------------------
function callCard(call) {
  let card = document.querySelector(`#calls [data-call-id="${CSS.escape(call.id)}"]`);
  if (card) return card;
  card = $("call-template").content.firstElementChild.cloneNode(true);
  card.dataset.callId = call.id;
  const id = call.id;
  const act = (promise, done) => promise.then(() => done && notice(done), (error) => notice(errorText(error.error || error)));
  card.querySelector(".hangup").addEventListener("click", () => act(cti.hangup(id), t("hung_up")));
  card.querySelector(".hold").addEventListener("click", () => act(cti.hold(id, !calls.get(id)?.held)));
  card.querySelector(".mute").addEventListener("click", () => act(cti.mute(id, !calls.get(id)?.muted)));
  card.querySelector(".complete").addEventListener("click", () => act(cti.complete(id), t("transferred")));
  card.querySelector(".conference").addEventListener("click", () => act(cti.conference(id)));
  card.querySelector(".drop").addEventListener("click", () => act(cti.hangup(id, "consult")));
  const keypad = card.querySelector(".keypad");
  card.querySelector(".keypad-toggle").addEventListener("click", (event) => {
    keypad.hidden = !keypad.hidden;
    event.currentTarget.setAttribute("aria-expanded", String(!keypad.hidden));
  });
  for (const key of keypad.querySelectorAll("button")) key.addEventListener("click", () => act(cti.dtmf(id, key.textContent)));
  card.querySelector(".answer-chat").addEventListener("click", () => act(cti.answer(id)));
  card.querySelector(".chat-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = card.querySelector(".chat-input");
    const text = input.value.trim();
    if (text) act(cti.chat(id, text).then(() => { input.value = ""; }));
  });
  setupFlows(card, call, desk, act);
  setupOrderForm(card, call, desk, notice);
  setupHistory(card, call, desk.cti);
  const form = card.querySelector(".transfer");
  const target = () => [form.querySelector(".transfer-kind").value, form.querySelector(".transfer-to").value.trim()];
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const [kind, to] = target();
    if (to) act(cti.transfer(id, kind, to), t("transferred"));
  });
  form.querySelector(".warm").addEventListener("click", () => {
    const [kind, to] = target();
    if (to) act(cti.consult(id, kind, to));
  });
  translate(card);
  $("calls").append(card);
  return card;
}

function showCall(call) {
  const card = callCard(call);
  const consulted = call.role === "consulted";
  card.querySelector(".call-title").textContent = consulted ? t("consultation") : t("call");
  const status = call.status === "ringing" ? "ringing" : call.flow ? "in_flow" : call.mode === "conference"
    ? "in_conference" : call.mode === "consult" ? "consulting" : call.held ? "held" : "talking";
  const badge = card.querySelector(".status");
  badge.textContent = t(status) + (call.muted ? ` · ${t("muted")}` : "");
  badge.className = `badge status ${status}`;
  badge.dataset.status = status;
  const by = card.querySelector(".by");
  by.textContent = call.by ? `${t(consulted ? "consulted_by" : "transferred_by")}: ${call.by}` : "";
  fillFacts(card.querySelector(".facts"), call);
  renderContext(card.querySelector(".ivr-context"), call.screen.ivr_context, language);
  fillScreen(card.querySelector(".screen").tBodies[0], call.screen);
  const talking = call.status === "talking";
  const owner = call.role !== "consulted";
  card.querySelector(".hangup").textContent = consulted ? t("leave") : t("hang_up");
  for (const selector of [".hold", ".mute", ".keypad-toggle"]) card.querySelector(selector).hidden = !owner;
  card.querySelector(".hold").textContent = call.held ? t("resume") : t("hold");
  card.querySelector(".hold").disabled = !talking || call.mode !== "talk" || !!call.flow;
  card.querySelector(".mute").textContent = call.muted ? t("unmute") : t("mute");
  card.querySelector(".mute").disabled = !talking;
  card.querySelector(".transfer").hidden = !owner || !!call.other;
  for (const button of card.querySelectorAll(".transfer button")) button.disabled = !talking || !!call.flow;
  showFlows(card, call, desk, owner, talking);
  showOrderForm(card, call, desk, owner, talking);
  showHistory(card, call);
  if (!owner) card.querySelector(".keypad").hidden = true;
  showChat(card, call.id);
  const other = card.querySelector(".other");
  other.hidden = !owner || !call.other;
  if (call.other) {
    card.querySelector(".other-name").textContent = call.other.target;
    const state = card.querySelector(".other-state");
    state.textContent = t(call.other.state); state.dataset.state = call.other.state;
    const up = call.other.state === "talking";
    card.querySelector(".complete").disabled = !up;
    card.querySelector(".conference").disabled = !up || call.mode === "conference";
  }
  tick();
}

// A web chat: the conversation pane beside the screen pop; no audio controls.
function showChat(card, id) {
  const state = chats.get(id);
  const pane = card.querySelector(".chat-pane");
  pane.hidden = !state;
  if (!state) return;
  card.dataset.chat = state;
  for (const selector of [".hold", ".mute", ".keypad-toggle", ".keypad", ".transfer"]) card.querySelector(selector).hidden = true;
  card.querySelector(".answer-chat").hidden = state !== "offered";
  for (const field of card.querySelectorAll(".chat-form input, .chat-form button")) field.disabled = state !== "talking";
}

function chatLine(id, from, text) {
  const card = document.querySelector(`#calls [data-call-id="${CSS.escape(id)}"]`);
  if (!card) return;
  const line = document.createElement("p");
  line.className = `chat-line ${from === "agent" ? "from-agent" : "from-customer"}`;
  const who = document.createElement("b");
  who.textContent = `${t(from === "agent" ? "agent_says" : "customer")}: `;
  line.append(who, document.createTextNode(text));
  const log = card.querySelector(".chat-log");
  log.append(line);
  log.scrollTop = log.scrollHeight;
}

function fillFacts(list, call) {
  const known = facts(call); // the screen, updated by what the caller's flows returned (a PIN check)
  const rows = [...FACTS.map((key) => [key, key === "queue" ? call.queue : known[key]]), ["call_id", call.id]];
  list.replaceChildren();
  for (const [key, value] of rows) {
    if (value === undefined || value === null || value === "") continue;
    const dt = document.createElement("dt"); dt.textContent = key === "call_id" ? t("call_id") : fieldName(key);
    const dd = document.createElement("dd"); dd.textContent = fieldValue(key, value); dd.dataset.key = key;
    list.append(dt, dd);
  }
}

function fillScreen(body, screen) {
  body.replaceChildren();
  const rows = (data, prefix) => {
    for (const [key, value] of Object.entries(data)) {
      if (SECRET.test(wordsOf(key)) || HIDDEN.has(key) || (!prefix && FACTS.includes(key))) continue;
      if (value && typeof value === "object" && !Array.isArray(value)) { rows(value, `${prefix}${fieldName(key)} · `); continue; }
      const tr = body.insertRow();
      const th = document.createElement("th");
      th.textContent = prefix + fieldName(key);
      tr.append(th);
      tr.insertCell().textContent = fieldValue(key, value);
      tr.dataset.key = key;
    }
  };
  rows(screen, "");
}

function dropCall(id) {
  calls.delete(id);
  document.querySelector(`#calls [data-call-id="${CSS.escape(id)}"]`)?.remove();
}

// -- wrap-up forms: one per call, never reused ------------------------------------------------
function addWrapup(call) {
  if (wrapups.has(call.id)) return;
  const form = $("wrapup-template").content.firstElementChild.cloneNode(true);
  form.dataset.callId = call.id;
  const who = call.screen.customer || call.screen.caller || call.id;
  form.querySelector(".wrapup-who").textContent = String(who);
  const when = new Date().toLocaleTimeString(language === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit" });
  form.querySelector(".wrapup-call").textContent =
    `${t("for_call")}: ${call.screen.caller ?? ""} · ${fieldValue("queue", call.queue)} · ${call.id} · ${when}`;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const ready = form.querySelector(".wrapup-ready").checked;
    const reason = ready ? null : $("reason").value;
    try {
      await cti.wrapup(call.id, form.querySelector(".disposition").value, form.querySelector(".notes").value, ready, reason);
      wrapups.delete(call.id); form.remove(); notice(t("saved")); layout();
    } catch (error) { notice(errorText(error.error || error)); }
  });
  translate(form);
  wrapups.set(call.id, form);
  $("wrapups").append(form);
}

function layout() { $("idle").hidden = calls.size > 0 || wrapups.size > 0; }

// -- timers ----------------------------------------------------------------------------------
function tick() {
  const now = performance.now();
  for (const call of calls.values()) {
    const timer = document.querySelector(`#calls [data-call-id="${CSS.escape(call.id)}"] .timer`);
    if (timer) timer.textContent = call.status === "talking" && call.since != null ? clock(call.since + (now - call.at) / 1000) : "00:00";
  }
  if (agent.remaining != null) $("wrapup-remaining").textContent = String(Math.max(0, Math.ceil(agent.remaining - (now - agent.at) / 1000)));
}

// -- events ---------------------------------------------------------------------------------
function onEvent(message) {
  const id = message.call_id;
  switch (message.event) {
    case "agent_state":
      Object.assign(agent, { state: message.state, reason: message.reason ?? null, remaining: message.remaining ?? null,
        at: performance.now(), afterCall: message.after_call ?? null });
      showState(); break;
    case "offered": {
      const known = calls.get(id) || {};
      const role = message.kind === "consult" ? "consulted" : "agent";
      calls.set(id, { ...known, id, queue: message.queue, screen: message.screen || {}, kind: message.kind, by: message.by,
        role, status: "ringing", held: false, muted: false, mode: "talk", other: null, since: null, at: performance.now(),
        flow: null, results: [] });
      notice(t(message.kind === "consult" ? "incoming_consult" : message.kind === "transfer" ? "incoming_transfer" : "incoming"));
      showCall(calls.get(id)); break;
    }
    case "connected":
      if (calls.has(id)) {
        const call = calls.get(id);
        Object.assign(call, { status: "talking", since: message.since ?? 0, at: performance.now() });
        if (message.kind === "transfer") call.role = "agent";
        notice(t("talking")); showCall(call);
      }
      break;
    case "call_state":
      if (calls.has(id)) {
        const call = calls.get(id);
        Object.assign(call, { role: message.role, status: message.status, held: message.held, muted: message.muted,
          mode: message.mode, other: message.other, flow: message.flow ?? null, results: message.results ?? [] });
        if (message.since != null) Object.assign(call, { since: message.since, at: performance.now() });
        showCall(call);
      }
      break;
    case "ended":
      if (calls.has(id)) {
        const call = calls.get(id);
        dropCall(id);
        if (message.wrapup) addWrapup(call);
        notice(t(`outcome_${message.outcome}`));
      }
      break;
    case "chat":
      if (message.state === "ended") chats.delete(id); else chats.set(id, message.state);
      if (message.state === "offered") notice(t("incoming_chat"));
      if (message.state === "ended") notice(t("chat_ended"));
      if (calls.has(id)) showCall(calls.get(id));
      break;
    case "chat_message": chatLine(id, message.from, message.text); break;
    case "flow_result":
      if (calls.has(id)) notice(t("back_from_flow"));
      break;
    case "queue_stats": fillQueues(message.queues); break;
    case "session_ended": endSession(t("session_ended")); return;
    case "error": notice(errorText(message.error)); break;
  }
  layout();
}

function fillQueues(queues) {
  const body = $("queues").tBodies[0];
  body.replaceChildren();
  for (const [name, q] of Object.entries(queues)) {
    const tr = body.insertRow();
    tr.dataset.queue = name;
    for (const value of [name, q.waiting, `${Math.round(q.longest_wait)} ${t("seconds")}`,
      q.service_level == null ? "—" : `${q.service_level}%`]) {
      tr.insertCell().textContent = String(value);
    }
  }
}

function translate(root) {
  for (const element of root.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
  for (const element of root.querySelectorAll("[data-i18n-placeholder]")) element.placeholder = t(element.dataset.i18nPlaceholder);
}

function chooseLanguage(code) {
  setLanguage(code);
  $("language").value = language;
  fillReasons();
  showState();
  for (const call of calls.values()) { translate(callCard(call)); showCall(call); }
  for (const form of wrapups.values()) translate(form);
  translateHistory(desk.cti);
}

// -- session ---------------------------------------------------------------------------------
async function start(token) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  cti = new CtiClient(`${scheme}://${location.host}${BASE}/cti/ws`);
  cti.on("*", onEvent);
  cti.on("closed", () => { if (!$("desk").hidden) notice(t("disconnected")); });
  const reply = await cti.connect(token);
  sessionStorage.setItem(TOKEN_KEY, token);
  reasons = reply.desk?.not_ready_reasons || reasons;
  desk.flows = reply.desk?.flows || [];
  desk.orders = reply.desk?.orders || null;
  if (!localStorage.getItem("desk-language")) chooseLanguage(reply.agent.language || reply.desk?.language || "zh");
  else fillReasons();
  $("agent-name").textContent = `${reply.agent.name} (${reply.agent.extension})`;
  $("login").hidden = true; $("desk").hidden = false; $("who").hidden = false;
  layout();
}

function endSession(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  cti?.close();
  calls.clear(); $("calls").replaceChildren();
  $("desk").hidden = true; $("who").hidden = true; $("login").hidden = false;
  $("login-error").textContent = message;
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    const { token } = await login($("extension").value.trim(), $("password").value, BASE);
    $("password").value = "";
    await start(token);
  } catch (error) { $("login-error").textContent = errorText(error.error || error); }
});

$("language").addEventListener("change", () => {
  localStorage.setItem("desk-language", $("language").value);
  chooseLanguage($("language").value);
});
$("ready").addEventListener("click", () => cti.ready().catch((error) => notice(errorText(error.error))));
$("not-ready").addEventListener("click", () => cti.notReady($("reason").value).catch((error) => notice(errorText(error.error))));
$("reason").addEventListener("change", showState);
$("after-call").addEventListener("change", (event) => {
  const wanted = event.currentTarget.checked;
  (wanted ? cti.notReady($("reason").value, true) : cti.ready(true)).catch((error) => notice(errorText(error.error)));
});
$("extend").addEventListener("click", () => cti.extendWrapup(30).catch((error) => notice(errorText(error.error))));
$("stay-not-ready").addEventListener("click", () => cti.notReady($("reason").value).catch((error) => notice(errorText(error.error))));
$("logout").addEventListener("click", async () => {
  try { await cti.logout(); endSession(""); } catch (error) { notice(errorText(error.error)); }
});

setInterval(tick, 1000);
setupCustomerSearch(desk.cti);
chooseLanguage(localStorage.getItem("desk-language") || "zh");
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) start(saved).catch(() => sessionStorage.removeItem(TOKEN_KEY));
