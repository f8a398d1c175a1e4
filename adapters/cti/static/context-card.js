// The caller's way through the IVR, as a readable card: what each flow declared as its
// context (a draft order, the stock asked about, why something failed) and the menus,
// entries and confirmations the caller went through, with failures marked. The data is
// the screen's `ivr_context` (see ivr.runtime.agentcontext); everything is set with
// textContent, never HTML, and a field whose name looks secret is skipped again here.
const SECRET = /(^|[^a-z])(pin|pins|password|passwd|passcode|pwd|secret|cvv|cvc|otp|token)([^a-z]|$)|password|passcode/i;

const WORDS = {
  zh: { title: "来电在语音导航中的经过", path: "经过", failed: "未成功",
    edges: { next: "已输入", on_invalid: "输入无效", on_no_input: "没有输入", on_no_match: "按键无效",
      on_reenter: "重新输入", on_cancel: "取消", agent: "转人工", back: "返回上一步" } },
  en: { title: "What the caller did in the IVR", path: "Path", failed: "failed",
    edges: { next: "entered", on_invalid: "invalid entry", on_no_input: "no input", on_no_match: "no match",
      on_reenter: "re-enter", on_cancel: "cancel", agent: "asked for an agent", back: "went back" } },
};
const FAILURES = new Set(["on_invalid", "on_no_input", "on_no_match"]);

function words(language) { return WORDS[language] || WORDS[String(language).split("-")[0]] || WORDS.zh; }

function text(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map(text).join("、");
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k}: ${text(v)}`).join("，");
  if (value === true) return "✓";
  if (value === false) return "✗";
  return String(value);
}

function fieldLabel(field, language) {
  const labels = field.label || {};
  return labels[language] || labels[String(language).split("-")[0]] || labels.zh || labels.en
    || String(field.name || "").replace(/_/g, " ");
}

/** One step `flow.node:edge` as words, and whether the caller failed there. */
export function describeStep(step, language = "zh") {
  const [where, edge = ""] = String(step).split(/:(?=[^:]*$)/);
  const [flow, node] = where.includes(".") ? where.split(/\.(.*)/s) : ["", where];
  const said = words(language).edges[edge] || (edge.length === 1 ? `${edge}` : edge.replace(/_/g, " "));
  return { flow, node, edge, text: `${node.replace(/_/g, " ")}: ${said}`, failed: FAILURES.has(edge) };
}

/** Fill `container` with the card for `context` (or hide it when there is none). */
export function renderContext(container, context, language = "zh") {
  container.replaceChildren();
  const fields = Array.isArray(context?.fields) ? context.fields : [];
  const path = Array.isArray(context?.path) ? context.path : [];
  container.hidden = !fields.length && !path.length;
  if (container.hidden) return;
  const say = words(language);
  const title = document.createElement("h3");
  title.textContent = say.title;
  const list = document.createElement("dl");
  list.className = "ivr-fields";
  for (const field of fields) {
    if (SECRET.test(String(field?.name || ""))) continue;
    const dt = document.createElement("dt"); dt.textContent = fieldLabel(field, language);
    const dd = document.createElement("dd"); dd.textContent = text(field.value);
    dd.dataset.field = field.name; dd.dataset.flow = field.flow || "";
    list.append(dt, dd);
  }
  container.append(title, list);
  if (!path.length) return;
  const steps = document.createElement("ol");
  steps.className = "ivr-path";
  steps.setAttribute("aria-label", say.path);
  for (const step of path) {
    const described = describeStep(step, language);
    const item = document.createElement("li");
    item.textContent = described.text;
    item.title = String(step);
    if (described.failed) { item.classList.add("failed"); item.dataset.failed = say.failed; }
    steps.append(item);
  }
  container.append(steps);
}
