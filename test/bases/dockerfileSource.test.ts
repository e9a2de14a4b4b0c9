import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerfileSourceError, dockerfileReader } from "../../shared/bases/dockerfileSource";
import type { DockerfileLocation, ManagedImage } from "../../shared/bases/enrollmentTypes";
import { tokenResolver } from "../../shared/bases/tokens";
import { Transport } from "../../shared/registry/transport";
import { startStandIn, type StandIn } from "./standIn";

const TOKEN = "glpat-RawFileToken";
let server: StandIn;
const transport = new Transport({ sleep: async () => undefined });
const read = dockerfileReader({ transport, tokens: tokenResolver({ env: { RAW_TOKEN: TOKEN } }) });

beforeAll(async () => {
  server = await startStandIn();
});
afterAll(async () => server?.stop());

function image(location: DockerfileLocation): ManagedImage {
  return {
    kind: "managed",
    name: "api",
    index: 0,
    line: 1,
    image: { registry: "myacr.azurecr.io", repository: "team/api", tag: "1" },
    dockerfile: { location, buildArgs: {} },
    rebuildDelayMs: 0,
    builtFrom: {},
  };
}

async function failure(promise: Promise<unknown>): Promise<DockerfileSourceError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DockerfileSourceError) return err;
    throw err;
  }
  throw new Error("expected a DockerfileSourceError");
}

describe("dockerfileReader over https (a loopback stand-in)", () => {
  it("fetches a public Dockerfile, following a redirect, and names it without its query", async () => {
    server.requests.length = 0;
    server.answers = [
      { status: 302, headers: { location: "/moved/Dockerfile" } },
      { status: 200, body: "FROM alpine:3.20\n" },
    ];
    const got = await read(image({ kind: "url", url: `${server.url}/org/api/main/Dockerfile?ref=x` }));
    expect(got).toEqual({ text: "FROM alpine:3.20\n", file: `${server.url}/org/api/main/Dockerfile` });
    expect(server.requests.map((r) => [r.method, r.path, r.headers.authorization])).toEqual([
      ["GET", "/org/api/main/Dockerfile?ref=x", undefined],
      ["GET", "/moved/Dockerfile", undefined],
    ]);
  });

  it("sends the token for a private Dockerfile and refuses to follow it anywhere", async () => {
    server.requests.length = 0;
    server.answers = [{ status: 200, body: "FROM node:22\n" }];
    const location: DockerfileLocation = {
      kind: "url",
      url: `${server.url}/private/Dockerfile`,
      token: { kind: "env", name: "RAW_TOKEN" },
    };
    expect((await read(image(location))).text).toBe("FROM node:22\n");
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    server.answers = [{ status: 302, headers: { location: "http://127.0.0.2:1/elsewhere" } }];
    const redirected = await failure(read(image(location)));
    expect(redirected.message).toBe(
      `${server.url}/private/Dockerfile redirected; a URL with a token must be the file itself`,
    );
    expect(server.requests).toHaveLength(2);
    const missing = await failure(read(image({ ...location, token: { kind: "env", name: "NOT_SET" } })));
    expect(missing.message).toBe(
      `cannot fetch ${server.url}/private/Dockerfile: environment variable NOT_SET is not set`,
    );
  });

  it("says when a Dockerfile is missing", async () => {
    server.answers = [{ status: 404 }];
    expect((await failure(read(image({ kind: "url", url: `${server.url}/gone/Dockerfile` })))).message).toBe(
      `${server.url}/gone/Dockerfile not found (404)`,
    );
    expect(
      (await failure(read(image({ kind: "file", path: "/nonexistent/Dockerfile", written: "x/Dockerfile" })))).message,
    ).toBe("cannot read x/Dockerfile: ENOENT");
  });
});
