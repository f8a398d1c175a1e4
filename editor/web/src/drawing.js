// The flow's drawing beside the text: SVG from Graphviz (POST api/draw, the same model as
// `ivr draw`). Nodes are <g class="node"> whose <title> is the node id. Clicking one moves
// the cursor to its YAML; the node under the cursor, nodes with problems, the simulated
// call's path and test coverage are shown by classes on those groups (app.css).

import { postForText } from "./api.js";

export class Drawing {
  constructor(element, { onNodeClick, onFileLink }) {
    this.element = element;
    this.onNodeClick = onNodeClick;
    this.onFileLink = onFileLink;
    this.nodes = new Map();
    this.request = 0;
    this.classes = { current: new Set(), "has-problem": new Set(), visited: new Set(), active: new Set(), covered: new Set(), uncovered: new Set() };
  }

  async update(file, text, language, state) {
    const ticket = ++this.request;
    try {
      const svg = await postForText("api/draw", { file, text, language });
      if (ticket !== this.request) return;
      this.show(svg);
      state.textContent = "";
      this.element.classList.remove("stale");
    } catch (error) {
      if (ticket !== this.request) return;
      this.element.classList.add("stale");
      state.textContent = error.message;
    }
  }

  clear(message) {
    this.element.replaceChildren();
    this.nodes = new Map();
    this.element.dataset.flow = "";
    if (message) this.element.textContent = message;
  }

  show(svgText) {
    const parsed = new DOMParser().parseFromString(svgText, "image/svg+xml");
    const svg = parsed.documentElement;
    if (svg.nodeName !== "svg") return;
    for (const bad of svg.querySelectorAll("script, foreignObject")) bad.remove();
    for (const el of svg.querySelectorAll("*")) {
      for (const attr of [...el.attributes]) if (attr.name.startsWith("on")) el.removeAttribute(attr.name);
    }
    const scroll = { left: this.element.scrollLeft, top: this.element.scrollTop };
    this.element.replaceChildren(document.importNode(svg, true));
    this.element.scrollLeft = scroll.left;
    this.element.scrollTop = scroll.top;
    this.nodes = new Map();
    for (const group of this.element.querySelectorAll("g.node")) {
      const id = group.querySelector("title")?.textContent;
      if (!id || id === "__start__") continue;
      group.dataset.node = id;
      this.nodes.set(id, group);
      group.addEventListener("click", (event) => {
        event.preventDefault();
        const link = event.target.closest("a");
        const href = link?.getAttribute("xlink:href") || link?.getAttribute("href");
        if (href && href.startsWith("#file=") && event.detail === 2) {
          this.onFileLink(decodeURIComponent(href.slice(6)));
          return;
        }
        this.onNodeClick(id);
      });
    }
    this.element.dataset.nodes = String(this.nodes.size);
    this.reapply();
  }

  mark(cls, ids) {
    this.classes[cls] = new Set(ids);
    this.reapply(cls);
  }

  reapply(only) {
    for (const [cls, ids] of Object.entries(this.classes)) {
      if (only && cls !== only) continue;
      for (const [id, group] of this.nodes) group.classList.toggle(cls, ids.has(id));
    }
  }

  reveal(id) {
    const group = this.nodes.get(id);
    if (!group) return;
    const box = group.getBoundingClientRect();
    const frame = this.element.getBoundingClientRect();
    if (box.top < frame.top || box.bottom > frame.bottom || box.left < frame.left || box.right > frame.right) {
      group.scrollIntoView({ block: "center", inline: "center" });
    }
  }
}
