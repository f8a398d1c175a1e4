// The flow editor's page: sign-in, the file tree, the CodeMirror 6 text editor with live
// diagnostics and completion, the drawing, and the Try it / Tests / Publish panels.
// docs/editor.md describes it; ivr.editor.app serves it.

import { EditorState, Compartment } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection,
  highlightSpecialChars, rectangularSelection, dropCursor,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching, foldGutter, foldKeymap } from "@codemirror/language";
import { autocompletion, completionKeymap, closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { linter, lintGutter, lintKeymap, forceLinting } from "@codemirror/lint";
import { searchKeymap, highlightSelectionMatches } from "@codemirror/search";
import { yaml } from "@codemirror/lang-yaml";

import { ApiError, encodePath, get, post, saveFile } from "./api.js";
import { flowCompletion } from "./completion.js";
import { Drawing } from "./drawing.js";
import { rangeOf, offsetOf } from "./positions.js";
import { PublishPanel } from "./publish.js";
import { Simulator } from "./simulate.js";
import { TestsPanel } from "./tests.js";

const LINT_DELAY_MS = 120; // the pause in typing after which the checker runs
const DRAW_DELAY_MS = 400; // and the drawing, once typing has paused this much longer
const $ = (id) => document.getElementById(id);

class EditorApp {
  constructor() {
    this.file = null;
    this.version = null;
    this.savedText = "";
    this.schema = null;
    this.names = null;
    this.outline = [];
    this.flowName = null;
    this.languages = [];
    this.view = null;
    this.separator = new Compartment();
    this.stats = { timings: [], changedAt: 0, checks: 0 };
    window.__ivrEditor = this.stats;
    this.drawing = new Drawing($("drawing"), {
      onNodeClick: (id) => this.goToNode(id),
      onFileLink: (path) => this.openFile(path),
    });
    this.simulator = new Simulator(this);
    this.tests = new TestsPanel(this);
    this.publisher = new PublishPanel(this);
  }

  // ---- start ---------------------------------------------------------------------------

  async boot() {
    let me;
    try {
      me = await get("api/me");
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return this.signIn();
      throw error;
    }
    this.me = me;
    $("project").textContent = me.project;
    $("who").textContent = `${me.user.name} (${me.user.role})`;
    $("sign-out").hidden = false;
    $("sign-out").addEventListener("click", async () => {
      await post("api/logout");
      location.reload();
    });
    $("workbench").hidden = false;
    this.createView();
    this.wireTabs();
    $("save").addEventListener("click", () => this.save());
    $("draw-language").addEventListener("change", () => this.redraw());
    $("actual-size").addEventListener("change", (event) => $("drawing").classList.toggle("actual-size", event.target.checked));
    window.addEventListener("beforeunload", (event) => {
      if (this.dirty()) event.preventDefault();
    });
    this.schema = await get("api/schema");
    await this.loadTree();
    await this.simulator.load(me);
    await this.publisher.load(me, me.user);
    const wanted = new URLSearchParams(location.hash.slice(1)).get("file");
    const first = wanted || this.firstFlow();
    if (first) await this.openFile(first);
    document.body.dataset.ready = "true";
  }

  signIn() {
    const form = $("sign-in");
    form.hidden = false;
    fetch("api/login", { method: "POST", headers: { "X-IVR-Editor": "1", "Content-Type": "application/json" }, body: "{}" })
      .then((r) => r.json())
      .then((body) => {
        if (body.error === "bad_request" && /address/.test(body.message)) {
          $("sign-in-local").hidden = false;
          $("sign-in-fields").hidden = true;
        }
      });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await post("api/login", { name: $("login-name").value, password: $("login-password").value });
        location.reload();
      } catch (error) {
        $("sign-in-error").textContent = error.message;
      }
    });
  }

  createView() {
    this.view = new EditorView({
      parent: $("editor"),
      state: this.newState("", "\n"),
    });
  }

  newState(text, separator) {
    return EditorState.create({
      doc: text,
      extensions: [
        this.separator.of(EditorState.lineSeparator.of(separator)),
        lineNumbers(), highlightActiveLineGutter(), highlightSpecialChars(), history(), foldGutter(),
        drawSelection(), dropCursor(), indentOnInput(), bracketMatching(), closeBrackets(),
        rectangularSelection(), highlightActiveLine(), highlightSelectionMatches(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        EditorState.tabSize.of(2),
        yaml(),
        autocompletion({ override: [flowCompletion(() => this.schema, () => this.names)], activateOnTyping: true }),
        linter((view) => this.check(view), { delay: LINT_DELAY_MS }),
        lintGutter(),
        keymap.of([
          { key: "Mod-s", preventDefault: true, run: () => { this.save(); return true; } },
          ...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap, ...foldKeymap,
          ...completionKeymap, ...lintKeymap, indentWithTab,
        ]),
        EditorView.updateListener.of((update) => this.onUpdate(update)),
      ],
    });
  }

  // ---- files ---------------------------------------------------------------------------

  async loadTree() {
    const { files } = await get("api/files");
    this.files = files;
    const tree = $("tree");
    tree.replaceChildren();
    let folder = null;
    for (const entry of files) {
      const parts = entry.path.split("/");
      const dir = parts.slice(0, -1).join("/");
      if (dir !== folder) {
        folder = dir;
        if (dir) {
          const item = document.createElement("li");
          item.className = "folder";
          item.textContent = `${dir}/`;
          tree.append(item);
        }
      }
      const item = document.createElement("li");
      item.dataset.path = entry.path;
      item.style.paddingLeft = `${10 + 12 * (parts.length - 1)}px`;
      item.append(parts[parts.length - 1]);
      const kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = entry.kind;
      item.append(kind);
      item.addEventListener("click", () => this.openFile(entry.path));
      tree.append(item);
    }
  }

  firstFlow() {
    const flow = (this.files || []).find((f) => f.kind === "flow");
    return flow ? flow.path : null;
  }

  async openFile(path, line) {
    if (path !== this.file && this.dirty() && !confirm(`Discard the unsaved changes to ${this.file}?`)) return;
    if (path !== this.file) {
      let found;
      try {
        found = await get(`api/files/${encodePath(path)}`);
      } catch (error) {
        this.toast(error.message);
        return;
      }
      this.file = path;
      this.version = found.version;
      const separator = found.text.includes("\r\n") ? "\r\n" : "\n";
      this.view.setState(this.newState(found.text, separator));
      this.savedText = this.view.state.doc.toString();
      this.setSaveState("clean");
      $("current-file").textContent = path;
      window.history.replaceState(null, "", `#file=${encodeURIComponent(path)}`);
      for (const item of document.querySelectorAll("#tree li[data-path]")) {
        item.setAttribute("aria-current", item.dataset.path === path ? "true" : "false");
      }
      this.drawing.clear();
    }
    if (line) this.moveTo(line, 1);
    this.view.focus();
  }

  text() {
    return this.view.state.doc.toString();
  }

  dirty() {
    return this.view !== null && this.file !== null && this.text() !== this.savedText;
  }

  async save() {
    if (!this.file || !this.dirty()) return;
    const text = this.text();
    try {
      const { version } = await saveFile(this.file, text, this.version);
      this.version = version;
      this.savedText = text;
      this.setSaveState(this.dirty() ? "modified" : "saved");
    } catch (error) {
      if (error.status === 412) {
        this.setSaveState("conflict");
        this.toast(`${error.message}: ${error.body.hint || "reload it"}`);
      } else {
        this.toast(error.message);
      }
    }
  }

  setSaveState(state) {
    $("save-state").dataset.state = state;
    $("save").disabled = state === "clean" || state === "saved";
  }

  // ---- checking ------------------------------------------------------------------------

  async check(view) {
    const state = view.state;
    const text = state.doc.toString();
    const file = this.file;
    if (!file) return [];
    let result;
    try {
      result = await post("api/check", { file, text });
    } catch (error) {
      this.toast(error.message);
      return [];
    }
    if (file !== this.file || view.state.doc !== state.doc) return [];
    this.stats.checks += 1;
    this.apply(result, text);
    const diagnostics = result.diagnostics.map((d) => this.toLint(state.doc, d));
    requestAnimationFrame(() => {
      if (view.state.doc === state.doc && this.stats.changedAt) {
        this.stats.timings.push(performance.now() - this.stats.changedAt);
        this.stats.changedAt = 0;
      }
      document.body.dataset.checked = String(this.stats.checks);
    });
    return diagnostics;
  }

  toLint(doc, d) {
    const { from, to } = rangeOf(doc, d);
    return {
      from,
      to,
      severity: d.severity === "error" ? "error" : d.severity === "warning" ? "warning" : "info",
      source: d.code,
      message: `${d.code}: ${d.message}`,
      renderMessage: () => {
        const box = document.createElement("div");
        box.className = "lint-message";
        const head = document.createElement("span");
        head.textContent = `${d.code}: ${d.message}`;
        box.append(head);
        if (d.hint) {
          const hint = document.createElement("span");
          hint.className = "hint";
          hint.textContent = `hint: ${d.hint}`;
          box.append(hint);
        }
        return box;
      },
      actions: [{ name: `Explain ${d.code}`, apply: () => this.explain(d.code) }],
    };
  }

  apply(result, text) {
    this.outline = result.outline;
    this.names = result.names;
    this.flowName = result.flow;
    this.languages = result.languages;
    this.problems(result.diagnostics, result.elsewhere);
    const flows = result.names.flows;
    this.simulator.setFlows(flows, result.flow, result.languages);
    const select = $("draw-language");
    const keep = select.value;
    select.replaceChildren(...result.languages.map((l) => new Option(l, l)));
    if (result.languages.includes(keep)) select.value = keep;
    clearTimeout(this.drawTimer);
    if (result.flow) {
      // the drawing follows a little behind typing: it costs more than the check
      const file = this.file;
      this.drawTimer = setTimeout(() => {
        this.drawing.update(file, text, select.value || null, $("draw-state")).then(() => this.afterDraw(result));
      }, this.drawing.nodes.size ? DRAW_DELAY_MS : 0);
    } else if (!this.drawing.nodes.size) {
      this.drawing.clear(this.file.endsWith(".test.yaml") ? "A test file: run it in the Tests tab." : "Not a flow (or it does not compile yet).");
    } else {
      this.drawing.element.classList.add("stale");
    }
  }

  afterDraw(result) {
    const withProblems = new Set(result.diagnostics.filter((d) => d.severity !== "info").map((d) => d.node || this.nodeAtLine(d.line)).filter(Boolean));
    this.drawing.mark("has-problem", withProblems);
    this.tests.paint();
    this.markCursorNode();
  }

  redraw() {
    if (this.flowName) this.drawing.update(this.file, this.text(), $("draw-language").value || null, $("draw-state"));
  }

  problems(mine, elsewhere) {
    const list = $("problem-list");
    list.replaceChildren();
    for (const d of mine) list.append(this.problemItem(d, true));
    for (const d of elsewhere || []) list.append(this.problemItem(d, false));
    const count = $("problem-count");
    count.textContent = String(mine.length + (elsewhere || []).length);
    count.classList.toggle("has-errors", mine.some((d) => d.severity === "error"));
    $("problems").dataset.count = String(mine.length);
  }

  showElsewhere(diagnostics) {
    this.problems(diagnostics.filter((d) => d.file === this.file), diagnostics.filter((d) => d.file !== this.file));
  }

  problemItem(d, here) {
    const item = document.createElement("li");
    item.className = d.severity;
    item.dataset.code = d.code;
    item.dataset.line = String(d.line);
    const code = document.createElement("span");
    code.className = "code";
    code.textContent = `${d.severity}[${d.code}]`;
    item.append(code, ` ${here ? "" : d.file + ":"}${d.line}:${d.column}: ${d.message}`);
    const explain = document.createElement("button");
    explain.className = "explain-link";
    explain.textContent = "explain";
    explain.addEventListener("click", (event) => {
      event.stopPropagation();
      this.explain(d.code);
    });
    item.append(explain);
    if (d.hint) {
      const hint = document.createElement("span");
      hint.className = "hint";
      hint.textContent = `hint: ${d.hint}`;
      item.append(hint);
    }
    item.addEventListener("click", () => (here ? this.moveTo(d.line, d.column) : this.openFile(d.file, d.line)));
    return item;
  }

  async explain(code) {
    try {
      const entry = await get(`api/explain/${encodeURIComponent(code)}`);
      $("explain-text").textContent = entry.text;
      $("explain").showModal();
    } catch (error) {
      this.toast(error.message);
    }
  }

  // ---- text <-> drawing ----------------------------------------------------------------

  onUpdate(update) {
    if (update.docChanged) {
      this.stats.changedAt = performance.now();
      this.setSaveState(this.dirty() ? "modified" : "clean");
    }
    if (update.selectionSet || update.docChanged) this.markCursorNode();
  }

  nodeAtLine(line) {
    const found = this.outline.find((n) => n.line <= line && line <= n.end_line);
    return found ? found.id : null;
  }

  markCursorNode() {
    if (!this.view) return;
    const line = this.view.state.doc.lineAt(this.view.state.selection.main.head).number;
    const id = this.nodeAtLine(line);
    this.drawing.mark("current", id ? [id] : []);
    $("drawing").dataset.current = id || "";
    if (id) this.drawing.reveal(id);
  }

  goToNode(id) {
    const node = this.outline.find((n) => n.id === id);
    if (!node) return;
    this.moveTo(node.line, node.col);
  }

  moveTo(line, column) {
    const doc = this.view.state.doc;
    const pos = offsetOf(doc, Math.min(line, doc.lines), column);
    this.view.dispatch({ selection: { anchor: pos }, effects: EditorView.scrollIntoView(pos, { y: "center" }) });
    this.view.focus();
  }

  // ---- panels --------------------------------------------------------------------------

  wireTabs() {
    for (const tab of document.querySelectorAll(".tabs button")) {
      tab.addEventListener("click", () => {
        for (const other of document.querySelectorAll(".tabs button")) {
          const selected = other === tab;
          other.setAttribute("aria-selected", String(selected));
          $(`tab-${other.dataset.tab}`).hidden = !selected;
        }
        if (tab.dataset.tab === "publish" && this.me.publishing) this.publisher.refresh();
      });
    }
  }

  toast(text) {
    const toast = $("toast");
    toast.textContent = text;
    toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (toast.hidden = true), 6000);
  }
}

const app = new EditorApp();
window.__ivrEditorApp = app;
app.boot().catch((error) => {
  document.body.textContent = `The editor could not start: ${error.message}`;
});
