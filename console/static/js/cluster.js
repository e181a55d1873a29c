// Cluster page: members, the leader, applied revisions and each member's lag.
import { get, errorText } from "./api.js";
import { h, section, status, clear, table } from "./dom.js";

export async function render(main) {
  const body = h("div", { id: "cluster-out" });
  const msg = h("p", { role: "status" });
  const refresh = async () => {
    try {
      const [c, self] = await Promise.all([get("/v1/cluster"), get("/v1/cluster/node")]);
      const leader = c.members.find((m) => m.id === c.leader);
      const top = Math.max(0, ...c.members.map((m) => m.applied_revision || 0), leader ? leader.applied_revision || 0 : 0);
      clear(body).append(
        h("p", {}, "Asked node ", h("code", {}, c.node), ` (${self.state}), applied index ${self.applied_index}, revision ${self.applied_revision}; leader `,
          h("code", { id: "cluster-leader" }, c.leader || "none")),
        table(["Node", "Role", "State", "Voter", "Reachable", "Applied revision", "Lag", "API", "Raft"], c.members.map((m) =>
          h("tr", { class: m.reachable ? "" : "bad-row", data: { node: m.id } },
            h("td", {}, h("code", {}, m.id)), h("td", {}, m.role), h("td", {}, m.state || ""), h("td", {}, m.voter ? "yes" : "no"),
            h("td", {}, m.reachable ? "yes" : "no" + (m.error ? ": " + m.error : "")), h("td", {}, String(m.applied_revision || 0)),
            h("td", { class: "lag" }, m.reachable ? String(top - (m.applied_revision || 0)) : "?"),
            h("td", {}, m.api_addr || ""), h("td", {}, m.raft_addr))), "Members (lag: revisions behind the most advanced member)"));
      status(msg, "Updated " + new Date().toLocaleTimeString());
    } catch (err) { status(msg, errorText(err), true); }
  };
  await refresh();
  const timer = setInterval(refresh, 5000);
  main.append(section("Members", h("button", { type: "button", id: "cluster-refresh", on: { click: refresh } }, "Refresh"), msg, body));
  return () => clearInterval(timer);
}
