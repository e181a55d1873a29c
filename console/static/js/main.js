// The console's shell: sign-in, the hash router and the navigation.
import { session, whoami, ApiError, errorText } from "./api.js";
import { clear, h } from "./dom.js";
import * as schema from "./schema.js";
import * as playground from "./playground.js";
import * as relationships from "./relationships.js";
import * as audit from "./audit.js";
import * as live from "./live.js";
import * as cluster from "./cluster.js";

const pages = { schema, playground, relationships, audit, live, cluster };
const titles = { schema: "Schema", playground: "Playground", relationships: "Relationships", audit: "Audit", live: "Live", cluster: "Cluster" };
let cleanup = null;

const $ = (id) => document.getElementById(id);

// route parses "#/page?k=v" into the page name and its parameters.
function route() {
  const [path, q] = location.hash.replace(/^#\/?/, "").split("?");
  return { name: pages[path] ? path : "schema", params: new URLSearchParams(q || "") };
}

async function show() {
  if (cleanup) { try { cleanup(); } catch { /* page gone */ } cleanup = null; }
  const { name, params } = route();
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === "#/" + name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${titles[name]} · Trellis console`;
  const main = clear($("main"));
  main.dataset.page = name;
  main.dataset.ready = "false";
  main.append(h("h1", {}, titles[name]));
  try {
    cleanup = (await pages[name].render(main, params)) || null;
  } catch (err) {
    main.append(h("p", { class: "error", role: "alert" }, errorText(err)));
  }
  main.dataset.ready = "true";
}

async function signIn() {
  $("login").hidden = true;
  try {
    await whoami();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      session.token = "";
      $("login").hidden = false;
      $("main").hidden = true;
      $("login-error").textContent = session.tokenTried ? errorText(err) : "";
      $("login-token").focus();
      return;
    }
    $("who").textContent = errorText(err);
    return;
  }
  $("main").hidden = false;
  $("who").textContent = `${session.principal} (${session.role})`;
  $("signout").hidden = !session.token;
  document.body.dataset.role = session.role;
  await show();
}

$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  session.token = $("login-token").value.trim();
  session.tokenTried = true;
  $("login-token").value = "";
  signIn();
});
$("signout").addEventListener("click", () => {
  session.token = "";
  session.tokenTried = false;
  location.hash = "#/schema";
  signIn();
});
window.addEventListener("hashchange", () => { if (session.role) show(); });
signIn();
