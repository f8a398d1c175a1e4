// Talking to the editor's backend (ivr.editor.routes). Every URL is relative, so the editor
// works at / (ivr edit) and mounted under a prefix (/editor/ in ivr serve).

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function parse(response) {
  const type = response.headers.get("content-type") || "";
  const body = type.includes("application/json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, typeof body === "object" ? body : { message: body });
  return body;
}

export async function get(path) {
  return parse(await fetch(path, { credentials: "same-origin" }));
}

export async function getResponse(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  if (!response.ok) await parse(response);
  return response;
}

export async function post(path, data) {
  return parse(
    await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-IVR-Editor": "1" },
      body: JSON.stringify(data || {}),
    }),
  );
}

export async function postForText(path, data) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-IVR-Editor": "1" },
    body: JSON.stringify(data || {}),
  });
  if (!response.ok) await parse(response);
  return response.text();
}

export async function saveFile(path, text, version) {
  const headers = { "Content-Type": "text/plain; charset=utf-8", "X-IVR-Editor": "1" };
  if (version) headers["If-Match"] = `"${version}"`;
  else headers["If-None-Match"] = "*";
  return parse(
    await fetch(`api/files/${encodePath(path)}`, { method: "PUT", credentials: "same-origin", headers, body: text }),
  );
}

// The whole path as one segment ('/' as %2F): the browser must not resolve `..` itself, so
// the server sees exactly what was asked for and can refuse it with its reason.
export function encodePath(path) {
  return encodeURIComponent(path);
}

export function socketUrl(path) {
  const url = new URL(path, document.baseURI);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}
