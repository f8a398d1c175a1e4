// What the caller did in the IVR, as a readable card: what each flow declared as its
// context (the service asked for, a draft order, the stock asked about, why something
// failed). The data is the screen's `ivr_context` (see ivr.runtime.agentcontext); the way
// through the menus is the screen's `ivr_path`, shown with the other screen data. Set with
// textContent, never HTML; a field whose name looks secret is skipped again here.
const SECRET = /(^|[^a-z])(pin|pins|password|passwd|passcode|pwd|secret|cvv|cvc|otp|token)([^a-z]|$)|password|passcode/i;
const TITLE = { zh: "来电在语音导航中的经过", en: "What the caller did in the IVR" };

function base(language) { return String(language || "zh").split("-")[0]; }

/** A value as text: lists joined, maps as "key: value" pairs, booleans as ticks. */
export function valueText(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.map(valueText).join("、");
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k}: ${valueText(v)}`).join("，");
  if (value === true) return "✓";
  if (value === false) return "✗";
  return String(value);
}

/** A field's label in the desk's language, else Mandarin, else English, else its name. */
export function fieldLabel(field, language) {
  const labels = field.label || {};
  return labels[language] || labels[base(language)] || labels.zh || labels.en
    || String(field.name || "").replace(/_/g, " ");
}

/** Fill `container` with the card for `context` (and hide it when there is nothing). */
export function renderContext(container, context, language = "zh") {
  container.replaceChildren();
  const fields = (Array.isArray(context?.fields) ? context.fields : [])
    .filter((field) => field && !SECRET.test(String(field.name || "")));
  container.hidden = fields.length === 0;
  if (container.hidden) return;
  const title = document.createElement("h3");
  title.textContent = TITLE[base(language)] || TITLE.zh;
  const list = document.createElement("dl");
  list.className = "ivr-fields";
  for (const field of fields) {
    const dt = document.createElement("dt"); dt.textContent = fieldLabel(field, language);
    const dd = document.createElement("dd"); dd.textContent = valueText(field.value);
    dd.dataset.field = String(field.name); dd.dataset.flow = String(field.flow || "");
    list.append(dt, dd);
  }
  container.append(title, list);
}
