import { it, expect } from "vitest";
import { openLocalStore } from "../../cli/localStore";
import { Tables } from "../../shared/store/tables";
it("persists", async () => {
  const dir = "/tmp/ls-try-dir";
  let s = await openLocalStore(dir);
  const t = new Tables({ connectionString: s.connectionString });
  await t.ensure();
  await t.client("SyncRuns").upsertEntity({ partitionKey: "a", rowKey: "b", x: 1 });
  let t0 = Date.now(); await s.stop(); console.log("stop ms", Date.now() - t0);
  s = await openLocalStore(dir);
  const t2 = new Tables({ connectionString: s.connectionString });
  const x = await t2.client("SyncRuns").getEntity("a", "b").then(e => e.x, e => "ERR " + e.message);
  await s.stop();
  expect(x).toBe(1);
}, 60000);
