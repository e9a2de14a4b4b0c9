/**
 * The trace's per-component `signed`: one referrers call per digest (a HEAD of cosign's `.sig` tag where the registry
 * has no Referrers API), cached with the labels, so a second trace asks the registry nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../shared/registry/client";
import { Transport, tallyRequests } from "../../shared/registry/transport";
import { Tables } from "../../shared/store/tables";
import { TraceStore } from "../../shared/store/traceStore";
import { LabelReader } from "../../shared/trace/labelReader";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, pushImage } from "../harness/images";
import { registryAvailable, startRegistry, type RunningRegistry } from "../harness/registry";
import { startReferrersStandIn, type ReferrersStandIn } from "../harness/referrersStandIn";
import {
  cosignKeyPair,
  notationEnvelope,
  notationSigner,
  pushCosignSignature,
  pushNotationSignature,
  subjectOf,
} from "../harness/signing";
import { startTogether } from "../harness/together";

describe.skipIf(!registryAvailable())("trace: is the component's digest signed where it was read", () => {
  let registry: RunningRegistry;
  let withApi: ReferrersStandIn;
  let azurite: RunningAzurite;
  let store: TraceStore;
  const client = new RegistryClient(new Transport());

  beforeAll(async () => {
    [registry, azurite] = await startTogether(startRegistry(), startAzurite());
    withApi = await startReferrersStandIn(registry.host);
    store = new TraceStore(new Tables({ connectionString: azurite.connectionString }));
  });
  afterAll(async () => Promise.all([withApi?.stop(), registry?.stop(), azurite?.stop()]));

  it("says signed for a cosign tag signature and not for an unsigned image, then answers from the cache", async () => {
    const signed = buildImage({ labels: { "org.opencontainers.image.revision": "a".repeat(40) } });
    const unsigned = buildImage({ labels: { "org.opencontainers.image.revision": "b".repeat(40) } });
    await pushImage(registry.host, "svc/signed", signed, "v1");
    await pushCosignSignature(registry.host, "svc/signed", signed.digest, cosignKeyPair());
    await pushImage(registry.host, "svc/unsigned", unsigned, "v1");
    // A fresh reader each time: only the store can answer the second read.
    const readBoth = () =>
      tallyRequests(async () => {
        const r = new LabelReader(client, { store, signatures: true });
        return Promise.all([
          r.read(registry.host, "svc/signed", signed.digest),
          r.read(registry.host, "svc/unsigned", unsigned.digest),
        ]);
      });
    const first = await readBoth();
    expect(first.result.map((o) => o.ok && o.record.signed)).toEqual([true, false]);
    // Per digest: manifest GET + config GET for the labels, one referrers call (404 here), one .sig HEAD.
    expect(first.requests.byKind).toMatchObject({ referrers: 2, "manifest.head": 2 });
    const second = await readBoth();
    expect(second.result.map((o) => o.ok && o.record.signed)).toEqual([true, false]);
    expect(second.requests.total).toBe(0);
  });

  it("finds a Notation signature through the Referrers API with no tag lookup", async () => {
    const image = buildImage({ labels: { "org.opencontainers.image.revision": "c".repeat(40) } });
    await pushImage(withApi.host, "svc/notation", image, "v1");
    await pushNotationSignature(
      withApi.host,
      "svc/notation",
      subjectOf(image),
      notationEnvelope(image.digest, image.manifest.length, notationSigner()),
    );
    const { result, requests } = await tallyRequests(() =>
      new LabelReader(client, { signatures: true }).read(withApi.host, "svc/notation", image.digest),
    );
    expect(result.ok && result.record.signed).toBe(true);
    expect(requests.byKind.referrers).toBe(1);
    expect(requests.byKind["manifest.head"]).toBeUndefined();
  });

  it("asks nothing extra when signatures are not asked for", async () => {
    const image = buildImage({ labels: { "org.opencontainers.image.revision": "d".repeat(40) } });
    await pushImage(registry.host, "svc/plain", image, "v1");
    const { result, requests } = await tallyRequests(() =>
      new LabelReader(client).read(registry.host, "svc/plain", image.digest),
    );
    expect(result.ok && result.record.signed).toBeUndefined();
    expect(requests.byKind.referrers).toBeUndefined();
  });
});
