/**
 * Attack: a forged copy-queue message. Whoever can send to the queue must not borrow the app's identity: not to read
 * a private image (pull secret from the vault) into a third registry, not to write an unconfigured repository or tag
 * in our ACR, not to put another image's bytes under a configured tag. Black-box through the queue handler, against
 * real registries; the attacker's registry's access log proves nothing reached it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvocationContext, type Timer } from "@azure/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyImage } from "../../functions/copyImage";
import { copyQueueOutput } from "../../functions/copyQueue";
import { setRuntime } from "../../functions/runtime";
import { syncImages } from "../../functions/syncImages";
import { Runtime } from "../../shared/runtime";
import { readSettings } from "../../shared/settings";
import type { CopyMessage } from "../../shared/sync/copyMessage";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, fetchManifest, pushImage } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { startTogether } from "../harness/together";

const PASSWORD = "pa55-Queue-Secret";
const basic = () => `Basic ${Buffer.from(`puller:${PASSWORD}`).toString("base64")}`;

let priv: RunningRegistry;
let acr: RunningRegistry;
let evil: RunningRegistry;
let azurite: RunningAzurite;
let dir: string;
let legit: CopyMessage[] = [];
let otherDigest: string;
const logs: string[] = [];

const context = (name: string) =>
  new InvocationContext({
    functionName: name,
    invocationId: `sec-${Math.random().toString(16).slice(2)}`,
    logHandler: (level, ...args) => logs.push(`${level} ${args.map(String).join(" ")}`),
    options: { extraOutputs: [copyQueueOutput] },
  });

const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: "", next: "", lastUpdated: "" },
};

beforeAll(async () => {
  [priv, acr, evil, azurite] = await startTogether(
    startRegistry({ htpasswd: { puller: PASSWORD } }),
    startRegistry(),
    startRegistry(),
    startAzurite(),
  );
  await pushImage(priv.host, "team/private", buildImage(), "1.0", basic);
  const other = buildImage();
  otherDigest = other.digest;
  await pushImage(priv.host, "team/other", other, "9.9", basic);
  dir = mkdtempSync(join(tmpdir(), "sec-queue-"));
  writeFileSync(
    join(dir, "pull-private"),
    JSON.stringify({ auths: { [priv.host]: { auth: Buffer.from(`puller:${PASSWORD}`).toString("base64") } } }),
  );
  writeFileSync(
    join(dir, "sync.yaml"),
    [
      `target: { registry: "${acr.host}", prefix: mirror }`,
      "defaults: { pinTag: true }",
      "credentials:",
      `  "${priv.host}": { keyVaultSecret: pull-private }`,
      "images:",
      `  - { source: "${priv.host}/team/private", tags: ["1.0"] }`,
    ].join("\n"),
  );
  setRuntime(
    new Runtime(
      readSettings({
        SYNC_CONFIG: join(dir, "sync.yaml"),
        SYNC_MODE: "queue",
        LOCAL_SECRETS_DIR: dir,
        TABLES_CONNECTION_STRING: azurite.connectionString,
      }),
    ),
  );
  const ctx = context("syncImages");
  await syncImages(timer, ctx);
  legit = JSON.parse(JSON.stringify(ctx.extraOutputs.get(copyQueueOutput))) as CopyMessage[];
});
afterAll(async () => {
  setRuntime(undefined);
  await Promise.all([priv?.stop(), acr?.stop(), evil?.stop(), azurite?.stop()]);
});

function forged(change: (m: CopyMessage) => void): CopyMessage {
  const m = JSON.parse(JSON.stringify(legit[0])) as CopyMessage;
  change(m);
  return m;
}

async function refused(message: CopyMessage): Promise<void> {
  const before = logs.length;
  await copyImage(message, context("copyImage"));
  expect(logs.slice(before).join("\n")).toMatch(/^error copy message refused/m);
}

describe("forged copy-queue messages", () => {
  it("the planner's own message is still copied", () => {
    expect(legit).toHaveLength(1);
    expect(legit[0]!.item.target.repository).toBe("mirror/team/private");
  });

  it("a private image sent to a third registry: refused, the third registry receives no request", async () => {
    await refused(
      forged((m) => {
        m.item.target = { registry: evil.host, repository: "stolen/private", tag: "1.0" };
        m.item.key = `${evil.host}/stolen/private:1.0`;
      }),
    );
    expect(readFileSync(evil.logFile, "utf8")).not.toMatch(/"(?:GET|HEAD|PUT|POST|PATCH) \/v2\/[a-z]/);
  });

  it("an unconfigured repository in our ACR: refused, nothing written", async () => {
    await refused(
      forged((m) => {
        m.item.target = { registry: acr.host, repository: "mirror/anything", tag: "latest" };
        m.item.key = `${acr.host}/mirror/anything:latest`;
      }),
    );
    await refused(
      forged((m) => {
        m.item.target = { registry: acr.host, repository: "outside-prefix", tag: "1.0" };
        m.item.key = `${acr.host}/outside-prefix:1.0`;
      }),
    );
    expect((await fetchManifest(acr.host, "mirror/anything", "latest")).status).toBe(404);
    expect((await fetchManifest(acr.host, "outside-prefix", "1.0")).status).toBe(404);
  });

  it("another image or tag under the configured target: refused", async () => {
    // The configured target, but another private repository's bytes.
    await refused(
      forged((m) => {
        m.item.source = { registry: priv.host, repository: "team/other", tag: "9.9" };
        m.item.sourceDigest = otherDigest;
      }),
    );
    // A tag the rule does not name.
    await refused(
      forged((m) => {
        m.item.target.tag = "evil";
        m.item.key = `${acr.host}/mirror/team/private:evil`;
        m.item.source.tag = "evil";
      }),
    );
    // A pin tag for another digest.
    await refused(forged((m) => (m.item.pinTag = `20260101_sha256_${"a".repeat(64)}`)));
    expect((await fetchManifest(acr.host, "mirror/team/private", "evil")).status).toBe(404);
    expect((await fetchManifest(acr.host, "mirror/team/private", "1.0")).status).toBe(404);
  });

  it("the genuine message copies after all that", async () => {
    await copyImage(legit[0], context("copyImage"));
    expect((await fetchManifest(acr.host, "mirror/team/private", "1.0")).status).toBe(200);
  });
});
