/**
 * Provenance on the status page and in `/api/images`: a verified tag shows who signed it and which referrers came
 * along; an `unverified` tag is outdated, with its reason. Rows are written to a real store (Azurite) the way a run
 * writes them, and the page is read in headless Chromium.
 */
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveApi, type RunningServer } from "../../shared/api/server";
import { Runtime } from "../../shared/runtime";
import { readSettings } from "../../shared/settings";
import type { ImageStatus } from "../../shared/store/syncStore";
import { Tables } from "../../shared/store/tables";
import { startAzurite, type RunningAzurite } from "../harness/azurite";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SIGNER = `cosign sha256:${"c".repeat(64)}`;
const REFERRERS = [
  `application/spdx+json@sha256:${"1".repeat(64)}`,
  `application/vnd.dev.cosign.artifact.sig.v1+json@sha256:${"2".repeat(64)}`,
];

describe.skipIf(!existsSync(CHROMIUM))("provenance on the status page and in /api/images", () => {
  let azurite: RunningAzurite;
  let runtime: Runtime;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    azurite = await startAzurite();
    const dir = mkdtempSync(join(tmpdir(), "provenance-"));
    writeFileSync(join(dir, "sync.yaml"), 'target: { registry: "127.0.0.1:1" }\nimages: []\n');
    runtime = new Runtime(
      readSettings({ SYNC_CONFIG: join(dir, "sync.yaml"), TABLES_CONNECTION_STRING: azurite.connectionString }),
      { tables: new Tables({ connectionString: azurite.connectionString, prefix: "prov" }) },
    );
    const row = (tag: string, over: Partial<ImageStatus>): ImageStatus => ({
      key: `myacr.azurecr.io/app:${tag}`,
      targetRegistry: "myacr.azurecr.io",
      targetRepository: "app",
      tag,
      source: `ghcr.io/acme/app:${tag}`,
      sourceDigest: `sha256:${tag === "v1" ? "a".repeat(64) : "b".repeat(64)}`,
      state: "in-sync",
      lastCheckedAt: new Date().toISOString(),
      lastRunId: "run-1",
      origin: "sync.yaml:3 images[0]",
      ...over,
    });
    await runtime
      .requireStore()
      .saveStatuses([
        row("v1", { signedBy: SIGNER, verifiedDigest: `sha256:${"a".repeat(64)}`, referrers: REFERRERS }),
        row("v2", { state: "unverified", lastError: "signature required: no signature found for this digest" }),
        row("v3", { referrers: [REFERRERS[1]!] }),
      ]);
    server = await serveApi(runtime);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
    });
    page = await browser.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await azurite?.stop();
  });

  it("/api/images carries signedBy, verifiedDigest and referrers; unverified counts as outdated", async () => {
    const res = await fetch(`${server.url}/api/images`);
    const body = (await res.json()) as { images: ImageStatus[] };
    expect(body.images.map((i) => i.state)).toEqual(["unverified", "in-sync", "in-sync"]);
    expect(body.images[1]).toMatchObject({
      signedBy: SIGNER,
      verifiedDigest: `sha256:${"a".repeat(64)}`,
      referrers: REFERRERS,
    });
    const summary = (await (await fetch(`${server.url}/api/images?action=summarize`)).json()) as { outdated: number };
    expect(summary.outdated).toBe(1);
    const outdated = (await (await fetch(`${server.url}/api/images?state=unverified`)).json()) as { total: number };
    expect(outdated.total).toBe(1);
  });

  it("the page shows the signer and the referrers per tag, and an unverified tile", async () => {
    await page.goto(`${server.url}/api/`);
    await page.waitForSelector('body[data-loaded="1"]');
    const rows = page.locator('table[data-table="images"] tbody tr');
    await expect(rows.nth(0).getAttribute("data-state")).resolves.toBe("unverified");
    await expect(rows.nth(0).innerText()).resolves.toContain("no signature found");
    const verified = rows.nth(1).locator("span.badge.ok", { hasText: "verified" });
    await expect(verified.getAttribute("title")).resolves.toBe(`signed by ${SIGNER}`);
    const refs = rows.nth(1).locator("span.sub", { hasText: "referrers" });
    await expect(refs.innerText()).resolves.toBe("2 referrers");
    await expect(refs.getAttribute("title")).resolves.toBe(REFERRERS.join("\n"));
    // A signature that came along without a verify policy is "signed", not "verified".
    const signedOnly = rows.nth(2).locator("span.badge", { hasText: /^signed$/ });
    await expect(signedOnly.getAttribute("title")).resolves.toMatch(/no verify policy checked it/);
    await expect(rows.nth(2).locator("span.badge", { hasText: "verified" }).count()).resolves.toBe(0);
    await expect(rows.nth(2).locator("span.sub", { hasText: "referrer" }).innerText()).resolves.toBe("1 referrer");
    await expect(page.locator('[data-count="unverified"] .n').innerText()).resolves.toBe("1");
    await expect(page.locator('[data-count="outdated"] .n').innerText()).resolves.toBe("1");
  });
});
