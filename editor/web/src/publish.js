// The Publish panel: publish the saved project (api/publish: checked first, refused with
// the problems), list versions, diff one against the working files, roll back. Only a
// publisher sees the buttons work; the server refuses an author either way.

import { get, getResponse, post } from "./api.js";

export class PublishPanel {
  constructor(app) {
    this.app = app;
    this.el = (id) => document.getElementById(id);
    this.el("publish").addEventListener("click", () => this.publish());
  }

  async load(features, user) {
    this.el("publish-role").textContent = features.publishing
      ? `${user.name} is ${user.role === "publisher" ? "a publisher" : "an author: only a publisher can publish"}.`
      : "Publishing is not set up for this editor.";
    if (features.publishing) await this.refresh();
  }

  async publish() {
    const result = this.el("publish-result");
    if (this.app.dirty()) {
      result.textContent = "Save first: publishing takes the saved files.";
      return;
    }
    result.textContent = "publishing…";
    try {
      const { published } = await post("api/publish", { note: this.el("publish-note").value });
      result.textContent = `Published ${published.id} by ${published.author}.`;
      result.dataset.outcome = "published";
      await this.refresh();
    } catch (error) {
      result.textContent = error.message;
      result.dataset.outcome = error.body.error || "error";
      if (error.body.diagnostics) this.app.showElsewhere(error.body.diagnostics);
    }
  }

  async refresh() {
    const list = this.el("versions");
    try {
      const { versions } = await get("api/versions");
      list.replaceChildren(
        ...versions.map((v) => {
          const item = document.createElement("li");
          item.className = v.current ? "current" : "";
          item.dataset.version = v.id;
          item.append(`${v.id} ${v.current ? "(live) " : ""}by ${v.author}, ${new Date(v.at).toLocaleString()}${v.note ? ` – ${v.note}` : ""} `);
          const diff = document.createElement("button");
          diff.textContent = "diff with working";
          diff.addEventListener("click", () => this.diff(v.id));
          item.append(diff);
          if (!v.current) {
            const back = document.createElement("button");
            back.textContent = "roll back to this";
            back.className = "rollback";
            back.addEventListener("click", () => this.rollback(v.id));
            item.append(" ", back);
          }
          return item;
        }),
      );
    } catch (error) {
      list.textContent = error.message;
    }
  }

  async diff(version) {
    const response = await getResponse(`api/diff?old=${encodeURIComponent(version)}&new=working`);
    this.el("diff").textContent = (await response.text()) || "(no differences)";
  }

  async rollback(version) {
    const result = this.el("publish-result");
    try {
      const { published } = await post("api/rollback", { version });
      result.textContent = `Rolled back: ${published.id} (${published.note}) is live.`;
      result.dataset.outcome = "rolled_back";
      await this.refresh();
    } catch (error) {
      result.textContent = error.message;
      result.dataset.outcome = error.body.error || "error";
    }
  }
}
