// The Alerts page's link from a container's alert to that container's log lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { containerLogsLink } from "../src/pages/alert-links";

const ACTIVE = "2024-05-01T10:00:00Z";
const NOW = Date.parse("2024-05-01T10:30:00Z");

test("a container death alert links the Logs page from 15 minutes before it", () => {
  const link = containerLogsLink({ alertname: "ContainerOomKilled", name: "shop" }, ACTIVE, NOW);
  assert.ok(link !== null);
  const params = new URL(link, "http://x").searchParams;
  assert.deepEqual(
    [new URL(link, "http://x").pathname, params.get("query"), Number(params.get("from")), Number(params.get("to"))],
    ["/logs", '{container="shop"}', Date.parse("2024-05-01T09:45:00Z"), NOW],
  );
});

test("a container label links too, quoted; other alerts do not link", () => {
  const link = containerLogsLink({ alertname: "AppErrorBurst", container: 'we"ird' }, ACTIVE, NOW);
  assert.equal(new URL(link ?? "", "http://x").searchParams.get("query"), '{container="we\\"ird"}');
  assert.equal(containerLogsLink({ alertname: "HostHighCpuLoad", name: "x" }, ACTIVE, NOW), null);
});
