import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TriggerSpec } from "../../shared/bases/enrollmentTypes";
import { tokenResolver, TokenError } from "../../shared/bases/tokens";
import { sendRebuildTrigger, TriggerError } from "../../shared/bases/trigger";
import { Transport, type RequestEvent } from "../../shared/registry/transport";
import { startStandIn, type StandIn } from "./standIn";

const TOKEN = "ghp_TopSecretValue123";

let server: StandIn;
const events: RequestEvent[] = [];
// A real transport: the same retry policy, per-host cap and request hook as every registry call.
const transport = new Transport({ onRequest: (e) => events.push(e), sleep: async () => undefined });

beforeAll(async () => {
  server = await startStandIn();
});
afterAll(async () => server?.stop());

function trigger(over: Partial<TriggerSpec>): TriggerSpec {
  return {
    kind: "github",
    url: `${server.url}/repos/org/api/actions/workflows/build.yml/dispatches`,
    ref: "main",
    inputs: { reason: "base-image" },
    token: { kind: "env", name: "T" },
    enabled: true,
    ...over,
  };
}

async function failure(promise: Promise<unknown>): Promise<TriggerError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof TriggerError) return err;
    throw err;
  }
  throw new Error("expected a TriggerError");
}

describe("sendRebuildTrigger", () => {
  it("sends a GitHub workflow_dispatch as the API expects it", async () => {
    server.requests.length = 0;
    server.answers = [{ status: 204 }];
    const sent = await sendRebuildTrigger(transport, trigger({}), TOKEN);
    expect(sent).toEqual({ status: 204 });
    expect(server.requests).toHaveLength(1);
    const [req] = server.requests;
    expect(req).toMatchObject({ method: "POST", path: "/repos/org/api/actions/workflows/build.yml/dispatches" });
    expect(req!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req!.headers.accept).toBe("application/vnd.github+json");
    expect(req!.headers["x-github-api-version"]).toBe("2022-11-28");
    expect(req!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(req!.body)).toEqual({ ref: "main", inputs: { reason: "base-image" } });
    expect(events.at(-1)).toMatchObject({ method: "POST", status: 204, host: new URL(server.url).host });
  });

  it("sends a GitLab pipeline trigger as a form with the token, and returns the pipeline link", async () => {
    server.requests.length = 0;
    server.answers = [
      { status: 201, body: JSON.stringify({ id: 7, web_url: "https://gitlab.example.com/org/api/-/pipelines/7" }) },
    ];
    const sent = await sendRebuildTrigger(
      transport,
      trigger({ kind: "gitlab", url: `${server.url}/api/v4/projects/42/trigger/pipeline`, inputs: { BASE: "node" } }),
      TOKEN,
    );
    expect(sent).toEqual({ status: 201, link: "https://gitlab.example.com/org/api/-/pipelines/7" });
    const [req] = server.requests;
    expect(req!.path).toBe("/api/v4/projects/42/trigger/pipeline");
    expect(req!.headers.authorization).toBeUndefined();
    expect(req!.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(Object.fromEntries(new URLSearchParams(req!.body))).toEqual({
      token: TOKEN,
      ref: "main",
      "variables[BASE]": "node",
    });
  });

  it("reports a refusal without the token, even when the service echoes it", async () => {
    server.answers = [{ status: 401, body: JSON.stringify({ message: "Bad credentials" }) }];
    const unauthorized = await failure(sendRebuildTrigger(transport, trigger({}), TOKEN));
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.message).toMatch(/answered 401 \(check the token and its permissions\)$/);
    server.answers = [
      { status: 422, body: JSON.stringify({ message: `Unexpected inputs provided for token ${TOKEN}` }) },
    ];
    const echoed = await failure(sendRebuildTrigger(transport, trigger({}), TOKEN));
    expect(echoed.message).toBe(
      `github trigger ${server.url}/repos/org/api/actions/workflows/build.yml/dispatches answered 422: Unexpected inputs provided for token ***`,
    );
    for (const err of [unauthorized, echoed]) expect(`${err.message} ${err.stack}`).not.toContain(TOKEN);
  });

  it("never retries a trigger: a 503 is one request and one error", async () => {
    server.requests.length = 0;
    server.answers = [{ status: 503 }];
    const err = await failure(sendRebuildTrigger(transport, trigger({}), TOKEN));
    expect(err.status).toBe(503);
    expect(server.requests).toHaveLength(1);
  });

  it("leaves the query out of messages, where a token might hide", async () => {
    server.answers = [{ status: 404 }];
    const err = await failure(
      sendRebuildTrigger(transport, trigger({ url: `${server.url}/x/dispatches?access_token=${TOKEN}` }), TOKEN),
    );
    expect(err.message).toBe(`github trigger ${server.url}/x/dispatches answered 404`);
  });
});

describe("tokenResolver", () => {
  it("reads an environment variable and names a missing one without a value", async () => {
    const resolve = tokenResolver({ env: { API_TOKEN: TOKEN } });
    await expect(resolve({ kind: "env", name: "API_TOKEN" })).resolves.toBe(TOKEN);
    await expect(resolve({ kind: "env", name: "MISSING" })).rejects.toThrow(
      new TokenError("environment variable MISSING is not set"),
    );
    await expect(resolve({ kind: "keyVault", secretName: "x" })).rejects.toThrow(/no Key Vault is configured/);
    const fromVault = tokenResolver({ secrets: { getSecret: async (name) => `value-of-${name}` } });
    await expect(fromVault({ kind: "keyVault", secretName: "api-trigger" })).resolves.toBe("value-of-api-trigger");
  });
});
