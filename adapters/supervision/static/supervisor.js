// The supervisor pages (docs/reports.md): the wall board over a WebSocket, recordings with
// playback, complaint tickets, reports with an inline SVG chart and CSV. No build step, no CDN.
const $ = (selector) => document.querySelector(selector);
const SVG = "http://www.w3.org/2000/svg";
let socket = null;

function cell(text, numeric = false) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (numeric) td.className = "n";
  return td;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) tr.append(c instanceof Node ? c : cell(c));
  return tr;
}

// Answers may come back out of order (a page loads, then the user asks again): each kind of
// request draws only the answer to its latest ask.
function latestOnly() {
  let asked = 0;
  return () => {
    const mine = ++asked;
    return () => mine === asked;
  };
}
const searches = latestOnly(), ticketLists = latestOnly(), reports = latestOnly();

function notice(text) {
  $("#notice").textContent = text;
}

async function api(path, options = {}) {
  const init = { credentials: "same-origin", ...options };
  if (init.body !== undefined) init.headers = { "content-type": "application/json" };
  const response = await fetch(`api/${path}`, init);
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw Object.assign(new Error(body.error || response.statusText), { status: response.status });
  return body;
}

// -- login ---------------------------------------------------------------------------------
async function logIn(event) {
  event.preventDefault();
  $("#login-error").textContent = "";
  try {
    const body = { extension: $("#extension").value, password: $("#password").value };
    const answer = await api("login", { method: "POST", body: JSON.stringify(body) });
    $("#password").value = "";
    start(`${answer.supervisor.name} (${answer.supervisor.extension}), ${answer.tenant}`);
  } catch (error) {
    $("#login-error").textContent = error.status === 403 ? `Refused: ${error.message}` : error.message;
  }
}

function start(who) {
  $("#who").textContent = who;
  $("#login").hidden = true;
  $("#pages").hidden = false;
  $("#logout").hidden = false;
  connectBoard();
}

async function logOut() {
  await api("logout", { method: "POST", body: "{}" });
  if (socket) socket.close();
  location.reload();
}

// -- the wall board ------------------------------------------------------------------------
function connectBoard() {
  const url = new URL("ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(url);
  socket.onopen = () => { $("#board-status").textContent = "live"; $("#board-status").dataset.live = "yes"; };
  socket.onclose = () => {
    $("#board-status").textContent = "reconnecting…";
    $("#board-status").dataset.live = "no";
    if (!$("#pages").hidden) setTimeout(connectBoard, 2000);
  };
  socket.onmessage = (message) => drawBoard(JSON.parse(message.data));
}

function percent(value) {
  return value === null || value === undefined ? "–" : `${value}`;
}

function drawBoard(board) {
  $("#queues tbody").replaceChildren(...board.queues.map((q) => {
    // with the center's shared ACD the live waits are the whole center's (every instance)
    const waiting = q.center_waiting ?? q.waiting;
    const longest = q.center_longest_wait ?? q.longest_wait;
    const tr = row([q.queue, cell(waiting, true), cell(`${longest} s`, true), cell(q.offered, true),
      cell(q.answered, true), cell(q.abandoned, true), cell(percent(q.abandoned_pct), true),
      cell(percent(q.service_level_pct), true)]);
    tr.dataset.queue = q.queue;
    tr.dataset.waiting = waiting;
    return tr;
  }));
  const states = board.center_agents_by_state ?? board.agents_by_state;
  $("#agent-states").replaceChildren(...Object.entries(states).map(([state, count]) => {
    const li = document.createElement("li");
    li.dataset.state = state;
    const b = document.createElement("b");
    b.textContent = count;
    li.append(b, state.replace("_", " "));
    return li;
  }));
  $("#agents tbody").replaceChildren(...board.agents.map((a) => {
    const tr = row([a.agent, a.state.replace("_", " "), a.reason, cell(a.calls, true)]);
    tr.dataset.agent = a.agent;
    tr.dataset.state = a.state;
    return tr;
  }));
}

// -- recordings ----------------------------------------------------------------------------
function play(player, id, label) {
  player.src = `api/recordings/${encodeURIComponent(id)}/audio`;
  player.dataset.recording = id;
  player.play().catch((error) => notice(`cannot play: ${error.message}`));
  if (label) $("#now-playing").textContent = label;
}

async function search(event) {
  event?.preventDefault();
  $("#search-error").textContent = "";
  const params = new URLSearchParams([...new FormData($("#search"))].filter(([, v]) => v));
  const current = searches();
  try {
    const { recordings } = await api(`recordings?${params}`);
    if (!current()) return;
    $("#recording-list tbody").replaceChildren(...recordings.map((r) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "play";
      button.textContent = "Play";
      button.onclick = () => play($("#player"), r.id, `Playing ${r.id} (call ${r.call_id}, ${r.caller})`);
      const td = document.createElement("td");
      td.append(button);
      const tr = row([r.started.replace("T", " ").slice(0, 19), r.caller, r.kind, r.agent, r.orders.join(" "),
        cell(r.seconds, true), td]);
      tr.dataset.recording = r.id;
      return tr;
    }));
    if (!recordings.length) $("#search-error").textContent = "No recording matches.";
  } catch (error) {
    if (current()) $("#search-error").textContent = error.message;
  }
}

// -- tickets -------------------------------------------------------------------------------
let departments = [];

async function loadTickets() {
  const current = ticketLists();
  try {
    if (!departments.length) departments = (await api("departments")).departments;
    const { tickets } = await api(`tickets?status=${$("#ticket-status").value}`);
    if (!current()) return;
    $("#ticket-list tbody").replaceChildren(...tickets.map(ticketRow));
  } catch (error) {
    notice(error.message);
  }
}

function ticketRow(t) {
  const listen = document.createElement("td");
  if (t.recording_id) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "play";
    button.textContent = "Play";
    button.onclick = () => play($("#ticket-player"), t.recording_id);
    listen.append(button);
  }
  const reroute = document.createElement("td");
  const close = document.createElement("td");
  if (t.status === "open") {
    const select = document.createElement("select");
    select.className = "department";
    for (const d of departments) select.append(new Option(d.en, d.id, false, d.id === t.department));
    const go = document.createElement("button");
    go.type = "button";
    go.className = "reroute";
    go.textContent = "Re-route";
    go.onclick = () => change(t.ticket_no, "reroute", { department: select.value });
    reroute.append(select, go);
    const note = document.createElement("input");
    note.className = "note";
    note.placeholder = "what was done";
    const done = document.createElement("button");
    done.type = "button";
    done.className = "close";
    done.textContent = "Close";
    const callBack = document.createElement("label");
    callBack.className = "call-back";
    const tick = document.createElement("input");
    tick.type = "checkbox";
    tick.disabled = !t.caller;
    callBack.append(tick, " call the customer back");
    done.onclick = () => change(t.ticket_no, "close", { note: note.value, call_back: tick.checked });
    close.append(note, callBack, done);
  } else {
    close.textContent = t.note;
  }
  const tr = row([t.ticket_no, t.created_at.replace("T", " ").slice(0, 16), t.caller || "", t.account_no || "",
    t.topic, t.department, t.status, listen, reroute, close]);
  tr.dataset.ticket = t.ticket_no;
  tr.dataset.status = t.status;
  tr.dataset.department = t.department;
  return tr;
}

async function change(ticket, action, body) {
  try {
    await api(`tickets/${encodeURIComponent(ticket)}/${action}`, { method: "POST", body: JSON.stringify(body) });
    const closed = body.call_back ? `Ticket ${ticket} closed; the customer will be called back.` : `Ticket ${ticket} closed.`;
    notice(action === "close" ? closed : `Ticket ${ticket} re-routed to ${body.department}.`);
  } catch (error) {
    notice(error.message);
  }
  await loadTickets();
}

// -- reports -------------------------------------------------------------------------------
let lastReport = null;

function reportParams() {
  const form = new FormData($("#report-form"));
  form.delete("figure");
  return new URLSearchParams([...form].filter(([, v]) => v));
}

async function showReport(event) {
  event?.preventDefault();
  $("#report-error").textContent = "";
  const params = reportParams();
  $("#csv").href = `api/report?${params}&format=csv`;
  const current = reports();
  try {
    const report = await api(`report?${params}`);
    if (!current()) return;
    lastReport = report;
  } catch (error) {
    if (!current()) return;
    $("#report-error").textContent = error.message;
    $("#chart").replaceChildren();
    $("#report-table thead").replaceChildren();
    $("#report-table tbody").replaceChildren();
    return;
  }
  const numeric = lastReport.columns.filter((c) => c !== "exits");
  const figure = $("#report-form [name=figure]");
  const chosen = numeric.includes(figure.value) ? figure.value : numeric[0];
  figure.replaceChildren(...numeric.map((c) => new Option(c, c, false, c === chosen)));
  drawTable(lastReport);
  drawChart(lastReport, chosen);
}

function drawTable(report) {
  $("#report-table thead").replaceChildren(row(["interval", report.by, ...report.columns].map((c) => {
    const th = document.createElement("th");
    th.textContent = c;
    return th;
  })));
  $("#report-table tbody").replaceChildren(...report.rows.map((r) => row([r.interval.replace("T", " ").slice(0, 16),
    r.key, ...report.columns.map((c) => cell(typeof r[c] === "object" && r[c] !== null
      ? Object.entries(r[c]).map(([k, v]) => `${k}:${v}`).join(" ") : r[c], true))])));
}

function drawChart(report, figure) {
  const rows = report.rows.filter((r) => typeof r[figure] === "number");
  const width = 40 + Math.max(1, rows.length) * 48, height = 220, base = 180;
  const most = Math.max(1, ...rows.map((r) => r[figure]));
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${figure} per ${report.interval}`);
  const add = (name, attrs, text) => {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
  };
  add("text", { x: 8, y: 14 }, `${figure} (max ${most})`);
  rows.forEach((r, i) => {
    const h = Math.round((r[figure] / most) * (base - 30));
    const x = 30 + i * 48;
    add("rect", { x, y: base - h, width: 36, height: h, "data-value": r[figure] });
    add("text", { x, y: base - h - 4 }, r[figure]);
    add("text", { x, y: base + 14 }, r.interval.slice(11, 16) || r.interval.slice(0, 10));
    add("text", { x, y: base + 28 }, r.key.slice(0, 8));
  });
  $("#chart").replaceChildren(svg);
}

// -- the audit log -------------------------------------------------------------------------
async function loadAudit() {
  try {
    const { audit } = await api("audit");
    $("#audit-list tbody").replaceChildren(...audit.map((line) => {
      const { at, by, kind, ...detail } = line;
      const tr = row([at.replace("T", " ").slice(0, 19), by, kind.replace("_", " "),
        Object.entries(detail).map(([k, v]) => `${k}: ${v}`).join(", ")]);
      tr.dataset.kind = kind;
      return tr;
    }));
  } catch (error) {
    notice(error.message);
  }
}

// -- pages ---------------------------------------------------------------------------------
const LOADERS = { recordings: () => search(), tickets: loadTickets, reports: () => showReport(), audit: loadAudit };

function show(page) {
  for (const button of document.querySelectorAll("nav button")) {
    button.setAttribute("aria-pressed", String(button.dataset.page === page));
  }
  for (const section of document.querySelectorAll("section.page")) section.hidden = section.id !== page;
  LOADERS[page]?.();
}

async function main() {
  $("#login").addEventListener("submit", logIn);
  $("#logout").addEventListener("click", logOut);
  $("#search").addEventListener("submit", search);
  $("#ticket-status").addEventListener("change", loadTickets);
  $("#report-form").addEventListener("submit", showReport);
  $("#report-form [name=figure]").addEventListener("change", () => lastReport && drawChart(lastReport, $("#report-form [name=figure]").value));
  $("#audit-refresh").addEventListener("click", loadAudit);
  for (const button of document.querySelectorAll("nav button")) button.addEventListener("click", () => show(button.dataset.page));
  try {
    await api("board");  // a session from before (the cookie): straight in
    start("");
  } catch {
    $("#login").hidden = false;
  }
}

main();
