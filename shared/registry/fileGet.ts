/**
 * A plain file by URL (a sync config, a service config at a commit) through the one Transport: same retry policy,
 * same request counting, a size cap, and redirects that never carry credentials to another host.
 */
import { RegistryError, type Transport } from "./transport";

export const DEFAULT_FILE_MAX_BYTES = 4 * 1024 * 1024;

/** The body as text, or null on 404. Other statuses throw a RegistryError naming the URL's origin and path only. */
export async function fileGet(
  transport: Transport,
  url: URL,
  options: { maxBytes?: number; headers?: Record<string, string> } = {},
): Promise<string | null> {
  // Query strings may carry tokens (SAS, GitHub raw tokens): messages name origin and path only.
  const what = `${url.origin}${url.pathname}`;
  const res = await transport.send({
    registry: url.host,
    method: "GET",
    path: url.toString(),
    kind: "file.get",
    scopes: [],
    headers: options.headers ?? {},
    followRedirects: true,
  });
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new RegistryError(`GET ${what} answered ${res.status}`, res.status);
  }
  const max = options.maxBytes ?? DEFAULT_FILE_MAX_BYTES;
  if (Number(res.headers.get("content-length") ?? 0) > max) {
    await res.body?.cancel();
    throw new RegistryError(`${what} is larger than ${max} bytes`, 413);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of (res.body ?? []) as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > max) throw new RegistryError(`${what} is larger than ${max} bytes`, 413);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString("utf8");
}
