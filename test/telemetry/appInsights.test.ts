/**
 * The App Insights sink against a local stand-in of the ingestion endpoint: what `flush` sends is what the alert
 * will read, so check the metric names, values and dimensions that arrive.
 */
import { createServer, type Server } from "node:https";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppInsightsMetrics } from "../../shared/telemetry/appInsights";
import { freePort } from "../harness/registry";
import { selfSignedCert, trustPolicy } from "../harness/tls";

let server: Server;
let port: number;
const received: unknown[] = [];

beforeAll(async () => {
  port = await freePort();
  server = createServer(selfSignedCert(), (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      for (const line of body.toString("utf8").split("\n").filter(Boolean)) {
        const parsed = JSON.parse(line) as unknown;
        received.push(...(Array.isArray(parsed) ? parsed : [parsed]));
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ itemsReceived: 1, itemsAccepted: 1, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
});
afterAll(async () => new Promise<void>((resolve) => server.close(() => resolve())));

describe("AppInsightsMetrics", () => {
  it("sends each run metric with its dimensions when flushed", async () => {
    const sink = new AppInsightsMetrics(
      `InstrumentationKey=00000000-0000-0000-0000-000000000001;IngestionEndpoint=https://127.0.0.1:${port}/`,
      undefined,
      { additionalPolicies: [trustPolicy(selfSignedCert().cert)] },
    );
    sink.emit("outdated_images", 3, { targetRegistry: "myacr.azurecr.io" });
    sink.emit("synced", 2, { targetRegistry: "myacr.azurecr.io" });
    await sink.flush();
    await sink.shutdown();
    const metrics = received
      .map(
        (e) =>
          e as {
            name?: string;
            data?: {
              baseData?: { metrics?: Array<{ name: string; value: number }>; properties?: Record<string, string> };
            };
          },
      )
      .filter((e) => e.data?.baseData?.metrics);
    const byName = new Map(
      metrics.flatMap((e) =>
        e.data!.baseData!.metrics!.map((m) => [m.name, { value: m.value, props: e.data!.baseData!.properties }]),
      ),
    );
    expect(byName.get("outdated_images")?.value).toBe(3);
    expect(byName.get("synced")?.value).toBe(2);
    expect(byName.get("outdated_images")?.props?.targetRegistry).toBe("myacr.azurecr.io");
  });
});
