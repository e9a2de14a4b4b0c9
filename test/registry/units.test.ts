import { describe, expect, it } from "vitest";
import { AuthManager, type RawSender } from "../../shared/registry/auth";
import { parseChallenges } from "../../shared/registry/challenge";
import { ManifestError, parseManifest } from "../../shared/registry/manifest";
import { RetryableError, backoffDelay, parseRetryAfter, withRetry, DEFAULT_RETRY } from "../../shared/registry/retry";
import { Limiter } from "../../shared/registry/limiter";

describe("parseChallenges", () => {
  it("reads Docker Hub's bearer challenge", () => {
    const [c] = parseChallenges(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
    );
    expect(c).toEqual({
      scheme: "bearer",
      params: {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:library/nginx:pull",
      },
    });
  });
  it("reads Basic and several challenges in one header, with escapes and unquoted values", () => {
    const cs = parseChallenges('Basic realm="a \\"b\\"", Bearer realm=https://x/token,service=x');
    expect(cs.map((c) => c.scheme)).toEqual(["basic", "bearer"]);
    expect(cs[0]!.params.realm).toBe('a "b"');
    expect(cs[1]!.params).toEqual({ realm: "https://x/token", service: "x" });
  });
  it("gives nothing for a missing header", () => {
    expect(parseChallenges(null)).toEqual([]);
  });
});

describe("retry policy", () => {
  it("parses Retry-After in seconds and as a date", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter("soon")).toBeUndefined();
  });
  it("backs off exponentially with jitter under a cap", () => {
    const policy = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(1, policy, () => 0.999)).toBe(99);
    expect(backoffDelay(3, policy, () => 0.999)).toBe(399);
    expect(backoffDelay(10, policy, () => 0.999)).toBe(999);
  });
  it("retries retryable errors, waits what the server asked, and gives up after maxAttempts", async () => {
    const waits: number[] = [];
    let calls = 0;
    const err = await withRetry(
      async () => {
        calls++;
        throw new RetryableError("busy", 429, 1500);
      },
      { ...DEFAULT_RETRY, maxAttempts: 3 },
      { sleep: async (ms) => void waits.push(ms) },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableError);
    expect(calls).toBe(3);
    expect(waits).toEqual([1500, 1500]);
  });
  it("does not wait out a Retry-After longer than the policy allows", async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw new RetryableError("limited", 429, 3_600_000);
      }, DEFAULT_RETRY),
    ).rejects.toThrow("limited");
    expect(calls).toBe(1);
  });
  it("does not retry other errors", async () => {
    let calls = 0;
    await expect(
      withRetry(async () => {
        calls++;
        throw new Error("404");
      }, DEFAULT_RETRY),
    ).rejects.toThrow("404");
    expect(calls).toBe(1);
  });
});

describe("Limiter", () => {
  it("never lets more than its limit run at once", async () => {
    const limiter = new Limiter(2);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        limiter.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 2));
          running--;
        }),
      ),
    );
    expect(peak).toBe(2);
  });
});

describe("parseManifest", () => {
  it("refuses schema 1, non-JSON, and descriptors without a digest", () => {
    expect(() => parseManifest(Buffer.from('{"schemaVersion":1}'))).toThrow(/schema 1/);
    expect(() => parseManifest(Buffer.from("<html>"))).toThrow(ManifestError);
    expect(() =>
      parseManifest(
        Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.index.v1+json",
            manifests: [{ size: 1 }],
          }),
        ),
      ),
    ).toThrow(/manifests\[0\]: missing or invalid digest/);
  });
  it("infers an OCI index without mediaType from its shape", () => {
    const m = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })));
    expect(m.mediaType).toBe("application/vnd.oci.image.index.v1+json");
  });
});

describe("AuthManager token cache", () => {
  const challenge = [{ scheme: "bearer", params: { realm: "https://auth.example/token", service: "svc" } }];
  function tokenServer(expiresIn: number) {
    let issued = 0;
    const send: RawSender = async () =>
      new Response(JSON.stringify({ token: `t${++issued}`, expires_in: expiresIn }), { status: 200 });
    return { send, issued: () => issued };
  }

  it("keeps a token until shortly before expires_in, then fetches a new one", async () => {
    let now = 1_000_000;
    const auth = new AuthManager({ now: () => now });
    const server = tokenServer(300);
    const scopes = ["repository:a:pull"];
    expect(await auth.answer("r.example", "r.example", scopes, challenge, server.send)).toBe("Bearer t1");
    expect(await auth.cachedHeader("r.example", "r.example", scopes)).toBe("Bearer t1");
    now += 269_000;
    expect(await auth.cachedHeader("r.example", "r.example", scopes)).toBe("Bearer t1");
    now += 2_000; // inside the 30 s safety margin
    expect(await auth.cachedHeader("r.example", "r.example", scopes)).toBeUndefined();
    expect(await auth.answer("r.example", "r.example", scopes, challenge, server.send)).toBe("Bearer t2");
  });

  it("caches per scope: a push token is not a pull token", async () => {
    const auth = new AuthManager();
    const server = tokenServer(300);
    await auth.answer("r.example", "r.example", ["repository:a:pull"], challenge, server.send);
    expect(await auth.cachedHeader("r.example", "r.example", ["repository:a:pull,push"])).toBeUndefined();
  });

  it("refuses a plain-http realm off loopback, and a token answer that is not JSON without echoing it", async () => {
    const auth = new AuthManager();
    const httpChallenge = [{ scheme: "bearer", params: { realm: "http://auth.example/token" } }];
    await expect(auth.answer("r.example", "r.example", ["s"], httpChallenge, tokenServer(1).send)).rejects.toThrow(
      /non-https realm/,
    );
    const leaky: RawSender = async () => new Response("password=hunter2", { status: 200 });
    const err = await auth.answer("r.example", "r.example", ["s"], challenge, leaky).catch((e: Error) => e);
    expect(String(err)).toMatch(/did not answer with a JSON object/);
    expect(String(err)).not.toContain("hunter2");
  });
});
