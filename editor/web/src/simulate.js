// The "Try it" panel: a simulated call over a WebSocket (api/simulate, ivr.editor.live)
// running the runtime's engine on in-memory ports. Prompts show as text (and play as
// audio when the server has espeak-ng); the keypad sends keys; each node entered lights
// up on the drawing.

import { get, socketUrl } from "./api.js";

export class Simulator {
  constructor(app) {
    this.app = app;
    this.socket = null;
    this.audioQueue = [];
    this.playing = null;
    this.el = (id) => document.getElementById(id);
    this.el("sim-settings").addEventListener("submit", (event) => {
      event.preventDefault();
      this.start();
    });
    this.el("sim-hangup").addEventListener("click", () => this.send({ type: "hangup" }));
    this.el("sim-data").addEventListener("change", () => this.showFixtures());
    for (const button of document.querySelectorAll("#keypad button")) {
      button.addEventListener("click", () => this.send({ type: "keys", keys: button.dataset.key }));
    }
  }

  async load(features) {
    const data = this.el("sim-data");
    if (!features.service_operations) data.querySelector('option[value="service"]').remove();
    try {
      const { tests } = await get("api/tests");
      for (const test of tests) {
        const option = document.createElement("option");
        option.value = `test:${test.file}#${test.name}`;
        option.textContent = `fixtures of test: ${test.name}`;
        option.dataset.test = JSON.stringify(test);
        data.append(option);
      }
    } catch (error) {
      this.app.toast(error.message);
    }
  }

  showFixtures() {
    const data = this.el("sim-data");
    this.el("sim-fixtures").hidden = data.value !== "text";
    const option = data.selectedOptions[0];
    if (option && option.dataset.test) {
      const test = JSON.parse(option.dataset.test);
      if (test.flow) this.el("sim-flow").value = test.flow;
      this.el("sim-caller").value = test.caller;
      this.el("sim-at").value = test.at;
      if (test.language) this.el("sim-language").value = test.language;
    }
  }

  setFlows(flows, current, languages) {
    this.paintVisits();
    const select = this.el("sim-flow");
    const chosen = current && current !== this.lastCurrent ? current : select.value || current;
    this.lastCurrent = current;
    select.replaceChildren(...flows.map((name) => new Option(name, name)));
    if (flows.includes(chosen)) select.value = chosen;
    const lang = this.el("sim-language");
    const keep = lang.value;
    lang.replaceChildren(new Option("(the flow's first)", ""), ...languages.map((l) => new Option(l, l)));
    if (languages.includes(keep)) lang.value = keep;
  }

  paintVisits() {
    const here = this.visits && this.visits.get(this.app.flowName);
    this.app.drawing.mark("visited", here || []);
  }

  fixtures() {
    const data = this.el("sim-data");
    const value = data.value;
    if (value === "text") return { text: this.el("sim-fixtures").value };
    if (value === "service") return { service: true };
    if (value.startsWith("test:")) {
      const test = JSON.parse(data.selectedOptions[0].dataset.test);
      return { test: { file: test.file, name: test.name } };
    }
    return null;
  }

  start() {
    this.stop();
    const transcript = this.el("transcript");
    transcript.replaceChildren();
    this.app.drawing.mark("visited", []);
    this.app.drawing.mark("active", []);
    this.visits = new Map();
    this.flow = this.el("sim-flow").value;
    const socket = new WebSocket(socketUrl("api/simulate"));
    this.socket = socket;
    socket.addEventListener("open", () => {
      socket.send(
        JSON.stringify({
          type: "start",
          file: this.app.file,
          text: this.app.text(),
          flow: this.flow,
          caller: this.el("sim-caller").value,
          dialed: this.el("sim-dialed").value,
          language: this.el("sim-language").value || null,
          at: this.el("sim-at").value || null,
          fixtures: this.fixtures(),
        }),
      );
    });
    socket.addEventListener("message", (event) => this.receive(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      if (this.socket === socket) this.inCall(false);
    });
    this.inCall(true);
    this.status("Calling…");
  }

  stop() {
    if (this.socket) {
      this.socket.close();
      this.socket = null;
    }
    this.audioQueue = [];
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  inCall(active) {
    this.el("sim-hangup").disabled = !active;
    document.getElementById("keypad").dataset.active = active ? "true" : "false";
  }

  status(text) {
    this.el("sim-status").textContent = text;
  }

  line(cls, text) {
    const item = document.createElement("li");
    item.className = cls;
    item.textContent = text;
    this.el("transcript").append(item);
    item.scrollIntoView({ block: "nearest" });
    return item;
  }

  receive(message) {
    switch (message.type) {
      case "refused":
        this.line("refused", message.message);
        for (const d of message.diagnostics || []) this.line("refused", `${d.file}:${d.line}:${d.column} ${d.code} ${d.message}`);
        this.status("The call was refused.");
        break;
      case "started":
        this.status(`In a call to ${message.flow} from ${message.caller}.`);
        break;
      case "prompt":
        this.line("prompt", message.text).dataset.language = message.language;
        if (message.audio && this.el("sim-audio").checked) this.play(message.audio);
        break;
      case "waiting":
        this.status(message.secret ? `Waiting for a secret entry (${message.timeout} s)…` : `Waiting for keys (${message.timeout} s)…`);
        break;
      case "pressed":
        if (message.keys) this.line("keys", `⌨ ${message.keys}`);
        break;
      case "event":
        this.event(message);
        break;
      case "transfer":
        this.line("transfer", `transfer to ${message.to} (${message.mode})`);
        break;
      case "ended":
        this.line("ended", `call ended: ${message.how}${message.failure ? ` (${message.failure})` : ""}`);
        this.status(`Call ended: ${message.how}.`);
        this.app.drawing.mark("active", []);
        this.inCall(false);
        break;
      default:
        break;
    }
  }

  event(message) {
    const detail = message.detail || {};
    if (message.kind === "node_entered") {
      this.line("node", `→ ${detail.flow}.${message.node}`).dataset.node = message.node;
      // Visits are kept per flow: the drawing may show another flow, or learn which flow it
      // shows only after the call's first events (a file just opened).
      if (!this.visits.has(detail.flow)) this.visits.set(detail.flow, new Set());
      this.visits.get(detail.flow).add(message.node);
      this.paintVisits();
      if (detail.flow === this.app.flowName) {
        this.app.drawing.mark("active", [message.node]);
        this.app.drawing.reveal(message.node);
      } else {
        this.app.drawing.mark("active", []);
      }
    } else if (message.kind === "operation") {
      this.line("operation", `${detail.name}: ${detail.outcome}`);
    } else if (message.kind === "message") {
      this.line("operation", `send ${detail.channel}: ${detail.outcome}`);
    } else if (message.kind === "queue") {
      this.line("operation", `queue ${detail.queue}: ${detail.outcome}`);
    }
  }

  play(url) {
    this.audioQueue.push(url);
    if (!this.playing) this.next();
  }

  next() {
    const url = this.audioQueue.shift();
    if (!url) {
      this.playing = null;
      return;
    }
    this.playing = new Audio(url);
    this.playing.addEventListener("ended", () => this.next());
    this.playing.addEventListener("error", () => this.next());
    this.playing.play().catch(() => this.next());
  }
}
