// A small client for the CTI WebSocket protocol (docs/cti.md), usable by any desktop or CRM.
// Commands return promises resolved with the reply (rejected with its error); events go to
// listeners registered with on(name, fn) ("*" for all). No dependencies, no build step.

export class CtiError extends Error {
  constructor(error) {
    super(error.message);
    this.code = error.code;
    this.retry_after = error.retry_after;
    this.error = error;
  }
}

export async function login(extension, password, base = "") {
  const response = await fetch(`${base}/cti/login`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ extension, password }),
  });
  const body = await response.json();
  if (!response.ok) {
    throw new CtiError({ code: body.code || "auth_failed", message: body.error || "login failed", retry_after: body.retry_after });
  }
  return body; // {token, agent}
}

export class CtiClient {
  constructor(url) {
    this.url = url; this.nextId = 1; this.pending = new Map(); this.listeners = new Map();
  }

  connect(token) {
    return new Promise((resolve, reject) => {
      this.socket = new WebSocket(this.url);
      this.socket.onopen = () => this.send("login", { token }).then(resolve, reject);
      this.socket.onmessage = (message) => this.#receive(message.data);
      this.socket.onclose = () => { this.#emit("closed", {}); reject(new CtiError({ code: "closed", message: "connection closed" })); };
    });
  }

  on(name, fn) { (this.listeners.get(name) || this.listeners.set(name, []).get(name)).push(fn); }

  send(command, fields = {}) {
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ id, command, ...fields }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  ready(afterCall = false) { return this.send("state", { state: "ready", after_call: afterCall }); }
  notReady(reason, afterCall = false) {
    return this.send("state", { state: "not_ready", after_call: afterCall, ...(reason ? { reason } : {}) });
  }
  hangup(callId, leg = "self") { return this.send("hangup", { call_id: callId, leg }); }
  hold(callId, on) { return this.send("hold", { call_id: callId, on }); }
  mute(callId, on) { return this.send("mute", { call_id: callId, on }); }
  dtmf(callId, digits) { return this.send("dtmf", { call_id: callId, digits }); }
  answer(callId) { return this.send("answer", { call_id: callId }); }
  chat(callId, text) { return this.send("chat", { call_id: callId, text }); }
  transfer(callId, kind, to) { return this.send("transfer", { call_id: callId, [kind]: to }); }
  consult(callId, kind, to) { return this.send("consult", { call_id: callId, [kind]: to }); }
  complete(callId) { return this.send("complete", { call_id: callId }); }
  conference(callId) { return this.send("conference", { call_id: callId }); }
  sendToFlow(callId, flow, inputs = {}) { return this.send("flow", { call_id: callId, flow, inputs }); }
  quote(callId, code) { return this.send("quote", { call_id: callId, code }); }
  checkOrder(callId, order) { return this.send("check_order", { call_id: callId, ...order }); }
  placeOrder(callId, order, key, readback) {
    return this.send("place_order", { call_id: callId, ...order, key, readback });
  }
  wrapup(callId, disposition, notes, ready, reason) {
    return this.send("wrapup", { call_id: callId, disposition, notes, ready, ...(reason ? { reason } : {}) });
  }
  extendWrapup(seconds = 30) { return this.send("extend_wrapup", { seconds }); }
  logout() { return this.send("logout"); }
  close() { this.socket?.close(); }

  #receive(text) {
    let message;
    try { message = JSON.parse(text); } catch { return; }
    if ("reply" in message) {
      const waiter = this.pending.get(message.reply);
      this.pending.delete(message.reply);
      if (waiter) message.ok ? waiter.resolve(message) : waiter.reject(new CtiError(message.error));
      return;
    }
    this.#emit(message.event, message);
  }

  #emit(name, message) {
    for (const fn of [...(this.listeners.get(name) || []), ...(this.listeners.get("*") || [])]) fn(message);
  }
}
