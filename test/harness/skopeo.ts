/**
 * skopeo as an independent reader: what a test wrote to a registry, read back by another client.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The digest of the manifest bytes skopeo reads for `host/repository:tag` (plain HTTP, no credentials). */
export async function skopeoRawDigest(host: string, repository: string, tag: string): Promise<string> {
  const { stdout } = await run(
    "skopeo",
    ["inspect", "--raw", "--tls-verify=false", "--no-creds", `docker://${host}/${repository}:${tag}`],
    { encoding: "buffer", timeout: 30_000, maxBuffer: 8 * 1024 * 1024 },
  );
  return `sha256:${createHash("sha256").update(stdout).digest("hex")}`;
}
