/**
 * A plain file by URL (a sync config, a service config at a commit) through the one Transport: same retry policy,
 * same request counting, a size cap, and redirects that never carry credentials to another host.
 */
import { readBodyCapped } from "./client";
import { RegistryError, type Transport } from "./transport";

export const DEFAULT_FILE_MAX_BYTES = 4 * 1024 * 1024;

/** The body as text, or null on 404. Other statuses throw a RegistryError naming the URL's origin and path only. */
export async function fileGet(
  transport: Transport,
  url: URL,
  options: { maxBytes?: number; headers?: Record<string, string>; followRedirects?: boolean } = {},
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
    followRedirects: options.followRedirects ?? true,
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
  const body = await readBodyCapped(
    res,
    max,
    what,
    () => new RegistryError(`${what} is larger than ${max} bytes`, 413),
  );
  return body.toString("utf8");
}
