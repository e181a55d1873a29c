// The REST API, as the console calls it: same origin, the bearer token from
// sessionStorage, JSON in and out, errors as ApiError.

const TOKEN_KEY = "trellis.token";
const WRITES_KEY = "trellis.writes";

export const session = {
  principal: "",
  role: "",
  get token() { return sessionStorage.getItem(TOKEN_KEY) || ""; },
  set token(t) { if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY); },
};

const RANK = { reader: 1, writer: 2, admin: 3 };

// can reports whether the signed-in role includes role.
export function can(role) { return (RANK[session.role] || 0) >= RANK[role]; }

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || "http_" + status;
    this.details = e.details;
  }
}

function headers(extra) {
  const h = { Accept: "application/json", ...extra };
  if (session.token) h.Authorization = "Bearer " + session.token;
  return h;
}

// raw fetches path and returns the Response, throwing ApiError on a status
// other than 2xx.
export async function raw(path, opts = {}) {
  const resp = await fetch(path, { ...opts, headers: headers(opts.headers), credentials: "omit", cache: "no-store" });
  if (!resp.ok) {
    let body = null;
    try { body = await resp.json(); } catch { /* not JSON */ }
    throw new ApiError(resp.status, body);
  }
  return resp;
}

export async function get(path) { return (await raw(path)).json(); }

export async function post(path, body, method = "POST") {
  const resp = await raw(path, { method, body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
  return resp.json();
}

// query builds a query string from the non-empty values of obj.
export function query(obj) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) if (v !== "" && v !== undefined && v !== null) q.set(k, v);
  const s = q.toString();
  return s ? "?" + s : "";
}

// consistency turns a mode and a token into the API's consistency value.
export function consistency(mode, token) {
  if (mode === "at_least_as_fresh" || mode === "at_exact_snapshot") {
    if (!token) throw new Error(`consistency ${mode} needs a token`);
    return { [mode]: token };
  }
  return mode || "minimize_latency";
}

// Writes made in this tab: their tokens are offered in the playground.
export function rememberWrite(what, token) {
  const list = writes();
  list.unshift({ what, token, at: new Date().toISOString() });
  sessionStorage.setItem(WRITES_KEY, JSON.stringify(list.slice(0, 20)));
}

export function writes() {
  try { return JSON.parse(sessionStorage.getItem(WRITES_KEY) || "[]"); } catch { return []; }
}

// whoami asks the node who the token belongs to.
export async function whoami() {
  const w = await get("/v1/whoami");
  session.principal = w.principal;
  session.role = w.role;
  return w;
}

// errorText renders an error for a person.
export function errorText(err) {
  if (err instanceof ApiError) return `${err.status} ${err.code}: ${err.message}`;
  return String(err && err.message ? err.message : err);
}
