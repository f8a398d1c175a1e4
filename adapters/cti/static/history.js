// The customer's history on the desk: a summary in each call's screen pop (the last calls
// with where they went, the last orders, open tickets) and the customer page (every section,
// newest first, older calls page by page), opened from the screen pop or by searching an
// account. The server's `history` command reads only this tenant's stores (docs/cti.md).
// Everything is set with textContent (never HTML).
import { errorText, language } from "./i18n.js";

const WORDS = {
  zh: {
    history: "客户历史", customer_page: "客户页面", last_calls: "最近来电", last_orders: "最近委托",
    open_tickets: "未结投诉", none: "无", unknown_customer: "未登记的号码", close: "关闭", more: "更早的记录",
    search: "查找客户", account_placeholder: "资金账号", calls: "来电记录", orders: "委托（电话）",
    transfers: "银证转账（电话）", tickets: "投诉工单", messages: "已发消息", attempts: "外呼记录",
    accounts: "资金账号", numbers: "电话", buy: "买入", sell: "卖出", bank_to_broker: "银行转证券",
    broker_to_bank: "证券转银行", by_ivr: "自助语音", by_agent: "坐席",
  },
  en: {
    history: "Customer history", customer_page: "Customer page", last_calls: "Last calls", last_orders: "Last orders",
    open_tickets: "Open tickets", none: "None", unknown_customer: "Number not on file", close: "Close",
    more: "Older", search: "Find customer", account_placeholder: "Account number", calls: "Calls",
    orders: "Orders (by phone)", transfers: "Bank transfers (by phone)", tickets: "Complaint tickets",
    messages: "Messages sent", attempts: "Outbound calls", accounts: "Accounts", numbers: "Numbers", buy: "Buy",
    sell: "Sell", bank_to_broker: "Bank to broker", broker_to_bank: "Broker to bank", by_ivr: "IVR", by_agent: "Agent",
  },
};
const w = (key) => (WORDS[language] || WORDS.zh)[key] ?? key;
const $ = (id) => document.getElementById(id);

function when(text) {
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) return text;
  return at.toLocaleString(language === "zh" ? "zh-CN" : "en-GB",
    { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
}

function path(nodes) { return nodes.map((node) => node.split(".").pop()).join(" → "); }

const LINES = {
  calls: (c) => [when(c.started_at), c.how ?? "", path(c.path)],
  orders: (o) => [when(o.created_at), `${w(o.side)} ${o.code} × ${o.qty} @ ${o.price}`, o.status, o.order_no,
    o.by ? w(`by_${o.by}`) : ""],
  transfers: (x) => [when(x.created_at), `${w(x.direction)} ${x.amount}`, x.status, x.transfer_no],
  tickets: (x) => [when(x.created_at), x.topic, x.department, x.status, x.ticket_no],
  messages: (m) => [when(m.created_at), m.channel, m.kind, m.recipient, m.status],
  attempts: (a) => [when(a.started_at), a.campaign, a.outcome ?? "", a.disposition ?? ""],
};

function list(items, render) {
  const ul = document.createElement("ul");
  for (const item of items) {
    const li = document.createElement("li");
    li.textContent = render(item).filter((part) => part !== "").join(" · ");
    ul.append(li);
  }
  if (!items.length) { const li = document.createElement("li"); li.className = "none"; li.textContent = w("none"); ul.append(li); }
  return ul;
}

function heading(level, text) { const h = document.createElement(level); h.textContent = text; return h; }

function customerLine(customer) {
  if (!customer.known) return w("unknown_customer") + (customer.numbers.length ? `: ${customer.numbers.join(", ")}` : "");
  const name = language === "zh" ? customer.name : customer.name_en || customer.name;
  return `${name} · ${w("accounts")}: ${customer.accounts.join(", ")} · ${w("numbers")}: ${customer.numbers.join(", ")}`;
}

// -- the screen pop ---------------------------------------------------------------------------
export function setupHistory(card, call, cti) {
  const box = card.querySelector(".history-summary");
  const button = card.querySelector(".customer-page");
  button.textContent = w("customer_page");
  button.addEventListener("click", () => openCustomerPage(cti(), { call_id: call.id }));
  cti().send("history", { call_id: call.id }).then((reply) => {
    call.history = reply.summary;
    showHistory(card, call);
  }, () => { box.hidden = true; });
}

export function showHistory(card, call) {
  const box = card.querySelector(".history-summary");
  const summary = call.history;
  if (!summary) return;
  box.querySelector(".history-title").textContent = w("history");
  box.querySelector(".customer-page").textContent = w("customer_page");
  box.querySelector(".history-customer").textContent = customerLine(summary.customer);
  const body = box.querySelector(".history-body");
  body.replaceChildren(
    heading("h4", w("last_calls")), Object.assign(list(summary.calls, LINES.calls), { className: "last-calls" }),
    heading("h4", w("last_orders")), Object.assign(list(summary.orders, LINES.orders), { className: "last-orders" }),
    heading("h4", w("open_tickets")), Object.assign(list(summary.open_tickets, LINES.tickets), { className: "open-tickets" }),
  );
  box.hidden = false;
}

// -- the customer page ------------------------------------------------------------------------
let shown = null; // {query, history}

export async function openCustomerPage(client, query) {
  const page = $("customer");
  const error = page.querySelector(".customer-error");
  error.textContent = "";
  try {
    const reply = await client.send("history", query);
    shown = { query, history: reply.history };
  } catch (failure) {
    shown = null;
    page.hidden = false;
    page.querySelector(".customer-who").textContent = "";
    page.querySelector(".customer-sections").replaceChildren();
    error.textContent = errorText(failure.error || failure);
    return;
  }
  renderCustomerPage(client);
  page.hidden = false;
  page.scrollIntoView({ block: "start" });
}

function renderCustomerPage(client) {
  const page = $("customer");
  page.querySelector(".customer-title").textContent = w("customer_page");
  page.querySelector(".customer-close").textContent = w("close");
  if (!shown) return;
  const { history } = shown;
  page.querySelector(".customer-who").textContent = customerLine(history.customer);
  const sections = page.querySelector(".customer-sections");
  sections.replaceChildren();
  for (const name of Object.keys(LINES)) {
    const section = history[name];
    if (!section) continue;
    const box = document.createElement("section");
    box.className = `history-${name}`;
    box.append(heading("h3", w(name)), list(section.lines, LINES[name]));
    if (section.more) {
      const more = document.createElement("button");
      more.type = "button"; more.className = "quiet more"; more.textContent = w("more");
      more.addEventListener("click", () => older(client, name, section.more));
      box.append(more);
    }
    sections.append(box);
  }
}

async function older(client, name, before) {
  try {
    const reply = await client.send("history", { ...shown.query, section: name, before });
    const section = shown.history[name];
    section.lines.push(...reply.history[name].lines);
    section.more = reply.history[name].more;
    renderCustomerPage(client);
  } catch (failure) {
    $("customer").querySelector(".customer-error").textContent = errorText(failure.error || failure);
  }
}

export function setupCustomerSearch(cti) {
  const form = $("customer-search");
  const input = form.querySelector("input");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const account = input.value.trim();
    if (account) openCustomerPage(cti(), { account });
  });
  $("customer").querySelector(".customer-close").addEventListener("click", () => { $("customer").hidden = true; shown = null; });
  translateHistory(cti);
}

export function translateHistory(cti) {
  const form = $("customer-search");
  form.querySelector("button").textContent = w("search");
  form.querySelector("input").placeholder = w("account_placeholder");
  form.querySelector("input").setAttribute("aria-label", w("account_placeholder"));
  if (cti && cti()) renderCustomerPage(cti());
  else { $("customer").querySelector(".customer-title").textContent = w("customer_page"); }
}
