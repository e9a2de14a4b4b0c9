/**
 * The fast seeding path for scale tests and benchmarks: one image is pushed over HTTP, then thousands of tags are
 * written straight into the registry's filesystem storage, where `docker-registry` (distribution 2.x) keeps a tag as
 * two link files holding the manifest digest:
 *   repositories/<name>/_manifests/tags/<tag>/current/link
 *   repositories/<name>/_manifests/tags/<tag>/index/sha256/<hex>/link
 * (https://github.com/distribution/distribution/blob/release/2.8/registry/storage/paths.go). Pushing the same
 * manifest 10,000 times over HTTP would take minutes on this machine; writing 20,000 small files takes about a
 * second, and the registry then lists, HEADs and serves those tags as if they had been pushed.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { mapSettled } from "../../shared/registry/limiter";
import type { Rule } from "./proxy";
import type { RunningRegistry } from "./registry";

export async function seedTagsOnDisk(
  registry: RunningRegistry,
  repository: string,
  digest: string,
  tags: readonly string[],
): Promise<void> {
  const [algorithm, hex] = digest.split(":");
  if (algorithm !== "sha256" || !hex) throw new Error(`seedTagsOnDisk: not a sha256 digest: ${digest}`);
  const tagsDir = join(
    registry.dir,
    "data",
    "docker",
    "registry",
    "v2",
    "repositories",
    repository,
    "_manifests",
    "tags",
  );
  await mapSettled(tags, 32, async (tag) => {
    const current = join(tagsDir, tag, "current");
    const index = join(tagsDir, tag, "index", "sha256", hex);
    await mkdir(current, { recursive: true });
    await mkdir(index, { recursive: true });
    await writeFile(join(current, "link"), digest);
    await writeFile(join(index, "link"), digest);
  }).then((settled) => {
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  });
}

/**
 * A proxy rule that pages `GET /v2/<repository>/tags/list` the way the OCI Distribution Spec describes (and ACR,
 * Docker Hub and distribution 3 do): tags in lexical order, at most `n` per response, the rest after `last`, and a
 * `Link: <…?n=N&last=T>; rel="next"` header while more remain
 * (https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-tags). distribution 2.8, the
 * Debian `docker-registry`, ignores `n` and returns every tag at once, so paging is modelled in front of it.
 */
export function pagedTagListRule(repository: string, tags: readonly string[], maxPage = 1000): Rule {
  const sorted = [...tags].sort();
  const path = `/v2/${repository}/tags/list`;
  return (req) => {
    if (req.method !== "GET") return undefined;
    const url = new URL(req.path, "http://registry.invalid");
    if (url.pathname !== path) return undefined;
    const n = Math.min(Number(url.searchParams.get("n") ?? maxPage) || maxPage, maxPage);
    const last = url.searchParams.get("last");
    const from = last === null ? 0 : sorted.findIndex((t) => t > last);
    const page = from < 0 ? [] : sorted.slice(from, from + n);
    const more = from >= 0 && from + n < sorted.length;
    return {
      status: 200,
      headers: {
        "Content-Type": "application/json",
        ...(more ? { Link: `<${path}?n=${n}&last=${encodeURIComponent(page[page.length - 1]!)}>; rel="next"` } : {}),
      },
      body: JSON.stringify({ name: repository, tags: page }),
    };
  };
}
