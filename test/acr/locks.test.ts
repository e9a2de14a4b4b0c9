// ACR locks against the stand-in: a copy locks its manifest; a locked tag that drifted upstream is reported and never
// overwritten — not by the guarded copier, not by a raw streamed copy (409), not by an import (ACR refuses).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AcrCatalog,
  AcrClients,
  AcrImporter,
  AcrLocks,
  ImportError,
  TagLockedError,
  createImageCopier,
  withLockGuard,
  type CopyJob,
  type ImageCopier,
} from "../../shared/acr";
import { RegistryClient } from "../../shared/registry/client";
import { CopyError, copyImage } from "../../shared/registry/copy";
import { Transport } from "../../shared/registry/transport";
import { startAcrStandIn, type AcrStandIn } from "../harness/acrStandIn";
import { startArmStandIn, type ArmStandIn } from "../harness/armStandIn";
import { fetchManifest, pushImage } from "../harness/images";
import { startRegistry, type RunningRegistry } from "../harness/registry";
import { FAST_RETRY, smallImage, testCredential } from "./fixtures";
import { startTogether } from "../harness/together";

let up: RunningRegistry;
let dst: RunningRegistry;
let acr: AcrStandIn;
let arm: ArmStandIn;
const client = new RegistryClient(new Transport({ retry: FAST_RETRY }));
const credential = testCredential();
const sub = "00000000-0000-0000-0000-000000000002";
let clients: AcrClients;
const catalog = () => new AcrCatalog(clients);

const streamCopier: ImageCopier = async (job) => {
  const started = Date.now();
  const r = await copyImage(client, job.source, job.target, job.tags);
  return { digest: r.digest, bytes: r.bytes, via: "stream", durationMs: Date.now() - started };
};
const job = (digest: string, tags: string[]): CopyJob => ({
  source: { registry: up.host, repository: "org/app", digest },
  target: { registry: acr.host, repository: "mirror/org/app" },
  tags,
});

const v1 = smallImage("locks-v1");
const v2 = smallImage("locks-v2");

beforeAll(async () => {
  [up, dst] = await startTogether(startRegistry(), startRegistry());
  acr = await startAcrStandIn(dst);
  arm = await startArmStandIn({
    subscriptionId: sub,
    resourceGroup: "rg",
    registryName: "standinacr",
    targetHost: acr.host,
  });
  clients = new AcrClients({ credential, endpoint: () => acr.endpoint, tlsCa: acr.ca, retry: FAST_RETRY });
  await pushImage(up.host, "org/app", v1, "1.0");
  await pushImage(up.host, "org/app", v2);
}, 60_000);

afterAll(async () => {
  await Promise.all([arm?.stop(), acr?.stop()]);
  await Promise.all([up?.stop(), dst?.stop()]);
});

describe("locks", () => {
  it("a guarded copy locks the manifest it wrote (write and delete protection)", async () => {
    const cat = catalog();
    const locks = new AcrLocks(clients, cat);
    const copier = withLockGuard(streamCopier, locks, { lockAfterCopy: locks });
    const out = await copier(job(v1.digest, ["1.0", "pin-v1"]));
    expect(out).toMatchObject({ digest: v1.digest, via: "stream", locked: true });
    expect(acr.attributes("mirror/org/app", v1.digest)).toMatchObject({ writeEnabled: false, deleteEnabled: false });
    expect(
      acr.seen.some(
        (s) => s.method === "PATCH" && s.path === `/acr/v1/mirror/org/app/_manifests/${v1.digest}` && s.status === 200,
      ),
    ).toBe(true);
    // A new run's catalog sees the lock in the listing.
    expect(await new AcrLocks(clients, catalog()).lockedTags(acr.host, "mirror/org/app")).toEqual(
      new Map([
        ["1.0", v1.digest],
        ["pin-v1", v1.digest],
      ]),
    );
  });

  it("drift on a locked tag is reported (TagLockedError) and the tag is not touched", async () => {
    const locks = new AcrLocks(clients, catalog());
    const copier = withLockGuard(streamCopier, locks, { lockAfterCopy: locks });
    const before = acr.proxySeen.length;
    const err = await copier(job(v2.digest, ["1.0"])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TagLockedError);
    expect((err as Error).message).toMatch(
      /mirror\/org\/app:1\.0 is locked in ACR at sha256:[a-f0-9]{64}: drift reported, not forced/,
    );
    // Nothing was sent to the registry at all.
    expect(acr.proxySeen.length).toBe(before);
    expect((await fetchManifest(dst.host, "mirror/org/app", "1.0")).digest).toBe(v1.digest);
  });

  it("a locked tag already at the wanted digest passes (nothing to overwrite)", async () => {
    const locks = new AcrLocks(clients, catalog());
    const out = await withLockGuard(streamCopier, locks)(job(v1.digest, ["1.0"]));
    expect(out.digest).toBe(v1.digest);
  });

  it("a raw streamed copy onto the locked tag is refused by the registry (409)", async () => {
    const err = await streamCopier(job(v2.digest, ["1.0"])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CopyError);
    expect((err as Error).message).toMatch(/409.*DENIED/);
    expect((await fetchManifest(dst.host, "mirror/org/app", "1.0")).digest).toBe(v1.digest);
  });

  it("an import onto the locked tag is refused by ACR", async () => {
    const importer = new AcrImporter({
      credential,
      subscriptionId: sub,
      resourceGroup: "rg",
      registryName: "standinacr",
      loginServer: acr.host,
      armEndpoint: arm.endpoint,
      tlsCa: arm.ca,
      pollIntervalMs: 5,
      retry: FAST_RETRY,
    });
    const copier = createImageCopier({
      mode: "import",
      stream: async () => ({ digest: "", bytes: 0 }),
      importer,
      isAcr: () => true,
    });
    const err = await copier(job(v2.digest, ["1.0"])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportError);
    expect(err).toMatchObject({ code: "TagLocked" });
    expect((await fetchManifest(dst.host, "mirror/org/app", "1.0")).digest).toBe(v1.digest);
  });

  it("after an unlock the tag moves again", async () => {
    const cat = catalog();
    const locks = new AcrLocks(clients, cat);
    expect(await locks.lockedDigest(acr.host, "mirror/org/app", "1.0")).toBe(v1.digest);
    const listings = () => acr.seen.filter((s) => s.path.endsWith("/_manifests") && s.status === 200).length;
    const before = listings();
    await locks.unlock(acr.host, "mirror/org/app", v1.digest);
    // The run's snapshot learns of its own change: no new listing.
    expect(await locks.lockedDigest(acr.host, "mirror/org/app", "1.0")).toBeUndefined();
    expect(listings()).toBe(before);
    const out = await withLockGuard(streamCopier, locks)(job(v2.digest, ["1.0"]));
    expect(out.digest).toBe(v2.digest);
    expect((await fetchManifest(dst.host, "mirror/org/app", "1.0")).digest).toBe(v2.digest);
  });

  it("a lock that fails never fails the copy; the outcome says why", async () => {
    const cat = catalog();
    const failing = { lock: async () => Promise.reject(new Error("403 AuthorizationFailed")) };
    const out = await withLockGuard(streamCopier, new AcrLocks(clients, cat), { lockAfterCopy: failing })(
      job(v1.digest, ["1.1"]),
    );
    expect(out).toMatchObject({ digest: v1.digest, locked: false, lockError: "403 AuthorizationFailed" });
  });

  it("leaves registries it does not apply to alone", async () => {
    let asked = 0;
    const locks = { lockedDigest: async () => (asked++, "sha256:" + "0".repeat(64)) };
    const out = await withLockGuard(streamCopier, locks, { appliesTo: () => false })(job(v1.digest, ["1.2"]));
    expect(out.digest).toBe(v1.digest);
    expect(asked).toBe(0);
  });
});
