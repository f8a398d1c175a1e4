// The call card's order form and the flows an agent sends the caller into (docs/cti.md,
// "Agent-taken orders" and "Agent -> flow -> agent"). An order goes code lookup -> side,
// quantity, price -> check (the back office's verdict, and the read-back script) -> placed
// after the caller confirmed, by voice (the agent) or by key (the read-back flow). Each draft
// carries its own key, so a repeated click or a retry never places it twice. Every value is
// set with textContent.
import { errorText, fieldName, fieldValue, language, t } from "./i18n.js";

const SECRET = /(^|[^a-z])(pin|pins|password|passwd|passcode|pwd|secret|cvv|cvc|otp|token)([^a-z]|$)|password|passcode/i;

/** What the desktop knows of the caller: the screen, then each flow's returned outputs. */
export function facts(call) {
  const known = { ...call.screen };
  for (const result of call.results || []) if (result.ending === "returned") Object.assign(known, result.outputs);
  return known;
}

export function words(map, fallback) {
  return (map && (map[language] || map.en || map.zh)) || fallback;
}

function newKey() {
  const random = globalThis.crypto?.randomUUID?.() || `${Date.now().toString(16)}-${Math.random().toString(16).slice(2)}`;
  return `d-${random}`.slice(0, 64);
}

// -- flows --------------------------------------------------------------------------------
export function setupFlows(card, call, desk, act) {
  const box = card.querySelector(".agent-flows");
  const buttons = box.querySelector(".flow-buttons");
  buttons.replaceChildren(...desk.flows.map((flow) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "quiet";
    button.dataset.flow = flow.name;
    button.addEventListener("click", () => act(desk.cti().sendToFlow(call.id, flow.name), t("sent_to_flow")));
    return button;
  }));
}

export function showFlows(card, call, desk, owner, talking) {
  const box = card.querySelector(".agent-flows");
  box.hidden = !owner || !desk.flows.length;
  for (const button of box.querySelectorAll("button[data-flow]")) {
    const flow = desk.flows.find((f) => f.name === button.dataset.flow);
    button.textContent = words(flow?.label, button.dataset.flow);
    button.disabled = !talking || !!call.flow || !!call.other;
  }
  const running = box.querySelector(".in-flow");
  running.hidden = !call.flow;
  running.textContent = call.flow ? t("in_flow_now", { flow: flowLabel(desk, call.flow) }) : "";
  const list = box.querySelector(".flow-results");
  list.replaceChildren(...(call.results || []).map((result) => resultItem(desk, result)));
}

function flowLabel(desk, name) {
  return words(desk.flows.find((f) => f.name === name)?.label, name);
}

function resultItem(desk, result) {
  const item = document.createElement("li");
  item.dataset.flow = result.flow;
  item.dataset.outcome = result.outcome ?? result.ending;
  const flow = desk.flows.find((f) => f.name === result.flow);
  const outcome = result.ending === "returned"
    ? words(flow?.outcomes?.[result.outcome], result.outcome ?? t("flow_done"))
    : t(`flow_${result.ending}`);
  const head = document.createElement("b");
  head.textContent = `${flowLabel(desk, result.flow)}: ${outcome}`;
  item.append(head);
  const shown = Object.entries(result.outputs || {}).filter(([key]) => !SECRET.test(key));
  if (shown.length) {
    const detail = document.createElement("span");
    detail.textContent = ` (${shown.map(([k, v]) => `${fieldName(k)} ${fieldValue(k, v)}`).join(", ")})`;
    item.append(detail);
  }
  return item;
}

// -- the order form -------------------------------------------------------------------------
export function setupOrderForm(card, call, desk, notice) {
  const form = card.querySelector(".order");
  const $ = (selector) => form.querySelector(selector);
  const state = (call.order = { key: newKey(), quote: null, checked: null });
  const draft = () => ({
    side: $(".order-side").value, code: $(".order-code").value.trim(),
    qty: Number.parseInt($(".order-qty").value, 10), price: $(".order-price").value.trim(),
  });
  const fail = (error) => { $(".order-result").textContent = errorText(error.error || error); };
  const changed = () => {
    state.key = newKey();
    state.checked = null;
    $(".order-readback").hidden = true;
    $(".order-result").textContent = "";
  };
  for (const field of form.querySelectorAll("input, select")) field.addEventListener("input", changed);
  prefill(form, call.screen);
  $(".order-lookup").addEventListener("click", async () => {
    const code = $(".order-code").value.trim();
    if (!/^[0-9]{6}$/.test(code)) { $(".order-quote").textContent = t("order_code_hint"); return; }
    try {
      const { quote } = await desk.cti().quote(call.id, code);
      state.quote = quote;
      $(".order-quote").textContent = quoteLine(quote);
      if (!$(".order-price").value) $(".order-price").value = quote.last;
    } catch (error) { state.quote = null; $(".order-quote").textContent = errorText(error.error || error); }
  });
  $(".order-entry").addEventListener("submit", async (event) => {
    event.preventDefault();
    changed();
    try {
      const answer = await desk.cti().checkOrder(call.id, draft());
      state.checked = { ...answer, draft: draft() };
      showReadback(form, state);
    } catch (error) { fail(error); }
  });
  const place = async (readback) => {
    if (!state.checked) return;
    try {
      const answer = await desk.cti().placeOrder(call.id, state.checked.draft, state.key, readback);
      placed(form, answer);
      if (answer.verdict.ok) { state.checked = null; state.key = newKey(); $(".order-readback").hidden = true; }
      notice(t(answer.verdict.ok ? "order_placed_short" : "order_refused_short"));
    } catch (error) { fail(error); }
  };
  $(".order-place-agent").addEventListener("click", () => place("agent"));
  $(".order-place-ivr").addEventListener("click", () => place("ivr"));
  $(".order-readback-flow").addEventListener("click", async () => {
    if (!state.checked || !desk.orders?.readback_flow) return;
    const { order } = state.checked;
    const inputs = { side: order.side, code: order.code, qty: order.qty, price: order.price, name: order.name };
    try { await desk.cti().sendToFlow(call.id, desk.orders.readback_flow, inputs); } catch (error) { fail(error); }
  });
}

function prefill(form, screen) {
  const source = (screen.draft && typeof screen.draft === "object") ? screen.draft : screen;
  const set = (selector, value) => { if (value !== undefined && value !== null && value !== "") form.querySelector(selector).value = String(value); };
  if (/^[0-9]{6}$/.test(String(source.code ?? ""))) set(".order-code", source.code);
  if (source.side === "buy" || source.side === "sell") set(".order-side", source.side);
  if (Number(source.qty) > 0) set(".order-qty", source.qty);
  if (Number(source.price) > 0) set(".order-price", source.price);
}

function quoteLine(quote) {
  const name = language === "zh" ? quote.name : (quote.name_en || quote.name);
  const state = quote.suspended ? ` · ${t("order_suspended")}` : "";
  return `${name} (${quote.market}) · ${t("order_last")} ${quote.last} · ${t("order_limits")} ${quote.limit_down}–${quote.limit_up}${state}`;
}

function showReadback(form, state) {
  const $ = (selector) => form.querySelector(selector);
  const { verdict, readback } = state.checked;
  $(".order-readback").hidden = false;
  $(".order-refusal").textContent = verdict.ok ? "" : t("order_refused", { reason: refusalWords(verdict) });
  $(".order-script-box").hidden = !verdict.ok;
  if (verdict.ok) $(".order-script").textContent = words(readback, "");
}

function refusalWords(verdict) {
  const refusal = verdict.refusal || {};
  return refusal[language] || refusal.en || refusal.zh || refusal.reason || "";
}

function placed(form, answer) {
  const { verdict } = answer;
  const text = verdict.ok
    ? t("order_placed", { order_no: verdict.order_no })
    : t("order_refused", { reason: refusalWords(verdict) });
  const result = form.querySelector(".order-result");
  result.textContent = answer.recorded === false ? `${text} ${t("order_not_recorded")}` : text;
  result.dataset.orderNo = verdict.order_no || "";
}

export function showOrderForm(card, call, desk, owner, talking) {
  const form = card.querySelector(".order");
  form.hidden = !owner || !desk.orders;
  if (form.hidden) return;
  const known = facts(call);
  const account = known.verified_account || known.account;
  const verified = known.verified === true;
  const identity = form.querySelector(".order-identity");
  identity.textContent = account
    ? `${fieldName("account")} ${account} · ${verified ? t("order_verified") : t("order_not_verified")}`
    : t("order_no_account");
  identity.dataset.verified = String(verified);
  for (const button of form.querySelectorAll("button")) button.disabled = !talking || !!call.flow;
  const readbackFlow = desk.orders.readback_flow;
  form.querySelector(".order-readback-flow").hidden = !readbackFlow;
  const checked = call.order?.checked;
  const confirmed = !!checked && (call.results || []).some((r) => r.flow === readbackFlow && r.outcome === "confirmed");
  form.querySelector(".order-place-ivr").hidden = !readbackFlow;
  form.querySelector(".order-place-ivr").disabled = !talking || !!call.flow || !confirmed;
  if (checked) for (const selector of [".order-place-agent", ".order-readback-flow"]) form.querySelector(selector).disabled = !talking || !!call.flow || !checked.verdict.ok;
}
