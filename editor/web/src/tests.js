// The Tests panel: run the project's flow tests (api/tests/run, the `ivr test` runner)
// and colour the drawing by coverage: covered nodes green, the others red.

import { post } from "./api.js";

export class TestsPanel {
  constructor(app) {
    this.app = app;
    this.coverage = null;
    this.el = (id) => document.getElementById(id);
    this.el("run-tests").addEventListener("click", () => this.run());
    this.el("show-coverage").addEventListener("change", () => this.paint());
  }

  async run() {
    const button = this.el("run-tests");
    button.disabled = true;
    this.el("test-summary").textContent = "running…";
    try {
      const result = await post("api/tests/run", { file: this.app.file, text: this.app.text() });
      this.show(result);
    } catch (error) {
      this.el("test-summary").textContent = error.message;
    } finally {
      button.disabled = false;
    }
  }

  show(result) {
    this.el("test-summary").textContent = `${result.passed} passed, ${result.failed} failed, ${result.problems.length} file problem(s)`;
    this.el("test-summary").dataset.failed = String(result.failed);
    const list = this.el("test-results");
    list.replaceChildren();
    for (const test of result.results) {
      const item = document.createElement("li");
      item.className = test.passed ? "passed" : "failed";
      item.textContent = `${test.name} (${test.file}:${test.line})`;
      item.addEventListener("click", () => this.app.openFile(test.file, test.line));
      if (!test.passed) {
        const pre = document.createElement("pre");
        pre.textContent = test.failure;
        item.append(pre);
      }
      list.append(item);
    }
    for (const problem of result.problems) {
      const item = document.createElement("li");
      item.className = "failed";
      item.textContent = `${problem.file}:${problem.line}:${problem.column} ${problem.code} ${problem.message}`;
      list.append(item);
    }
    this.coverage = result.coverage;
    this.table();
    this.el("show-coverage").checked = true;
    this.paint();
  }

  table() {
    const rows = Object.entries(this.coverage || {}).map(([flow, cov]) => {
      const row = document.createElement("tr");
      const nodes = `${cov.nodes.length}/${cov.all_nodes.length}`;
      const edges = `${cov.edges.length}/${cov.edges.length + cov.uncovered_edges.length}`;
      for (const text of [flow, nodes, edges, [...cov.uncovered_nodes, ...cov.uncovered_edges].join(", ") || "–"]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      row.dataset.flow = flow;
      return row;
    });
    const table = document.createElement("table");
    const head = document.createElement("tr");
    for (const text of ["flow", "nodes", "edges", "not covered"]) {
      const th = document.createElement("th");
      th.textContent = text;
      head.append(th);
    }
    table.append(head, ...rows);
    this.el("coverage").replaceChildren(table);
  }

  paint() {
    const drawing = this.app.drawing;
    const cov = this.coverage && this.coverage[this.app.flowName];
    if (!this.el("show-coverage").checked || !cov) {
      drawing.mark("covered", []);
      drawing.mark("uncovered", []);
      return;
    }
    drawing.mark("covered", cov.nodes);
    drawing.mark("uncovered", cov.uncovered_nodes);
  }
}
