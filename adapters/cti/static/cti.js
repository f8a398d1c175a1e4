// A small client for the CTI WebSocket protocol (docs/cti.md), usable by any desktop or CRM.
// Commands return promises resolved with the reply (rejected with its error); events go to
// listeners registered with on(name, fn) ("*" for all). No dependencies, no build step.

export class CtiError extends Error {
  constructor(error) { super(error.message); this.code = error.code; }
}

export async function login(extension, password, base = "") {
  const response = await fetch(`${base}/cti/login`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ extension, password }),
  });
  const body = await response.json();
  if (!response.ok) throw new CtiError({ code: "auth_failed", message: body.error || "login failed" });
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

  ready() { return this.send("state", { state: "ready" }); }
  notReady() { return this.send("state", { state: "not_ready" }); }
  hangup(callId) { return this.send("hangup", { call_id: callId }); }
  transfer(callId, kind, to) { return this.send("transfer", { call_id: callId, [kind]: to }); }
  wrapup(callId, disposition, notes, ready) { return this.send("wrapup", { call_id: callId, disposition, notes, ready }); }
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
