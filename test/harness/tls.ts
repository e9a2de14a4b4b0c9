/** A throwaway certificate for 127.0.0.1, for HTTPS stand-ins of Azure services (their SDKs refuse plain http). */
import type { PipelinePolicy, PipelineRequest, SendRequest } from "@azure/core-rest-pipeline";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SelfSignedCert {
  cert: string;
  key: string;
}

let cached: SelfSignedCert | undefined;

/** Writes `key.pem` and `cert.pem` (RSA 2048, two days) for `subject` into `dir`, with openssl. */
export function opensslCertificate(
  dir: string,
  subject: string,
  extra: readonly string[] = [],
): { keyFile: string; certFile: string } {
  const keyFile = join(dir, "key.pem");
  const certFile = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "2",
      "-subj",
      subject,
      ...extra,
    ],
    { stdio: "ignore" },
  );
  return { keyFile, certFile };
}

export function selfSignedCert(): SelfSignedCert {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), "tls-"));
  try {
    const { keyFile, certFile } = opensslCertificate(dir, "/CN=127.0.0.1", ["-addext", "subjectAltName=IP:127.0.0.1"]);
    cached = { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
    return cached;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An Azure SDK pipeline policy that trusts `ca` for this client only, with no process-wide setting. */
export function trustPolicy(ca: string): { position: "perCall"; policy: PipelinePolicy } {
  return {
    position: "perCall",
    policy: {
      name: "testTls",
      sendRequest: (req: PipelineRequest, next: SendRequest) => {
        req.tlsSettings = { ca };
        return next(req);
      },
    },
  };
}
