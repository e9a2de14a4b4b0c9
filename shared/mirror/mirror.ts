/**
 * Mirror before deploy: copy exactly the digests one environment of a layered service config pins into that
 * environment's registry (ARO-HCP: its service ACR, named by `acr.svc.name`), verify each at the target, and report.
 * - Each digest goes to `<target>/<same repository>` under the tag `<hex>` (the digest rule's convention, so ACR's
 *   untagged-manifest retention never collects it).
 * - Safe to re-run: an image whose target tag already holds the digest costs one HEAD and copies nothing.
 * - A source that already is the target registry is skipped and reported.
 * - `ok` is true only when every image is verified at the target; a digest missing upstream fails its image (named),
 *   never the others.
 */
import type { RegistryClient } from "../registry/client";
import { copyImage } from "../registry/copy";
import { mapSettled } from "../registry/limiter";
import { normaliseRegistry } from "../registry/reference";
import { countInto, newTally, RegistryError } from "../registry/transport";
import type { LayeredConfigResult } from "../sources/layeredConfig";
import { describeOrigin, type SourcedImage } from "../sources/types";
import { digestTag } from "../sync/tagRules";
import { readFrom, type RegistryMap } from "../trace/registryMap";

export type MirrorAction = "copied" | "present" | "skipped-source-is-target" | "failed";

export interface MirrorImageReport {
  /** Config path(s) that pin this digest. */
  paths: string[];
  origin: string;
  source: string;
  digest: string;
  target: string;
  action: MirrorAction;
  /** The target answered this digest for the tag after the copy (or before it, for `present`). */
  verified: boolean;
  /** Pull secret named for the source registry, if any. */
  pull_secret: string | null;
  bytes: number;
  requests: number;
  error: string | null;
}

export interface MirrorReport {
  ok: boolean;
  repo: string;
  commit: string;
  cloud: string;
  environment: string;
  region: string | null;
  target_registry: string;
  images: MirrorImageReport[];
  summary: { images: number; copied: number; present: number; skipped: number; failed: number; verified: number };
  requests: number;
  /** Source problems (a tag not resolved...) and failed images, each naming the image. */
  errors: string[];
  warnings: string[];
}

export interface MirrorOptions {
  client: RegistryClient;
  /** What the layered config source read (images, target registry, pull secrets). */
  source: LayeredConfigResult;
  /** Overrides the target the config names. */
  targetRegistry?: string | undefined;
  /** Host rewrite for reads and writes (a local registry in tests, a pull-through cache). */
  registryMap?: RegistryMap | undefined;
  concurrency?: number | undefined;
}

export class MirrorTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MirrorTargetError";
  }
}

export async function mirrorEnvironment(options: MirrorOptions): Promise<MirrorReport> {
  const { source } = options;
  const targetRegistry = normaliseRegistry(options.targetRegistry ?? source.targetRegistry ?? "");
  if (!targetRegistry) {
    throw new MirrorTargetError("no target registry: name a config path for it (acr.svc.name) or give one");
  }
  // One copy per (repository, digest), however many config paths pin it.
  const groups = new Map<string, SourcedImage[]>();
  const tagOnly: string[] = [];
  for (const image of source.images) {
    if (!image.digest) {
      // The mirror copies digests only: a tag would say nothing about what the environment runs.
      tagOnly.push(
        `${describeOrigin(image.origin)}: tag only (${image.registry}/${image.repository}:${image.tag}); not mirrored, use the resolve rule`,
      );
      continue;
    }
    const key = `${image.registry}/${image.repository}@${image.digest}`;
    groups.set(key, [...(groups.get(key) ?? []), image]);
  }
  const tally = newTally();
  const settled = await countInto(tally, () =>
    mapSettled([...groups.values()], options.concurrency ?? 4, (images) => mirrorOne(options, targetRegistry, images)),
  );
  const images = settled.map((s, i) =>
    s.status === "fulfilled" ? s.value : failedReport(options, targetRegistry, [...groups.values()][i]!, s.reason),
  );
  const summary = {
    images: images.length,
    copied: images.filter((r) => r.action === "copied").length,
    present: images.filter((r) => r.action === "present").length,
    skipped: images.filter((r) => r.action === "skipped-source-is-target").length,
    failed: images.filter((r) => r.action === "failed").length,
    verified: images.filter((r) => r.verified).length,
  };
  const errors = [
    ...source.problems.map((p) => `${p.source}: ${p.message}`),
    ...images.filter((r) => r.action === "failed").map((r) => `${r.source}@${r.digest}: ${r.error}`),
  ];
  return {
    ok: errors.length === 0 && images.every((r) => r.verified || r.action === "skipped-source-is-target"),
    repo: source.images[0]?.origin.kind === "config" ? source.images[0].origin.repo : source.source,
    commit: source.commit,
    cloud: source.cloud,
    environment: source.environment,
    region: source.region,
    target_registry: targetRegistry,
    images,
    summary,
    requests: tally.total,
    errors,
    warnings: [...source.warnings, ...tagOnly],
  };
}

function baseReport(options: MirrorOptions, targetRegistry: string, images: SourcedImage[]): MirrorImageReport {
  const first = images[0]!;
  return {
    paths: images.map((i) => (i.origin.kind === "config" ? i.origin.path : describeOrigin(i.origin))),
    origin: describeOrigin(first.origin),
    source: `${first.registry}/${first.repository}`,
    digest: first.digest!,
    target: `${targetRegistry}/${first.repository}:${digestTag(first.digest!)}`,
    action: "failed",
    verified: false,
    pull_secret: options.source.pullSecrets[first.registry] ?? null,
    bytes: 0,
    requests: 0,
    error: null,
  };
}

function failedReport(
  options: MirrorOptions,
  targetRegistry: string,
  images: SourcedImage[],
  err: unknown,
): MirrorImageReport {
  return { ...baseReport(options, targetRegistry, images), error: err instanceof Error ? err.message : String(err) };
}

async function mirrorOne(
  options: MirrorOptions,
  targetRegistry: string,
  images: SourcedImage[],
): Promise<MirrorImageReport> {
  const report = baseReport(options, targetRegistry, images);
  const first = images[0]!;
  if (normaliseRegistry(first.registry) === targetRegistry) {
    return { ...report, action: "skipped-source-is-target", verified: false };
  }
  const digest = first.digest!;
  const tag = digestTag(digest);
  const from = readFrom(options.registryMap, first.registry);
  const to = readFrom(options.registryMap, targetRegistry);
  const tally = newTally();
  try {
    return await countInto(tally, async () => {
      const result = await copyImage(
        options.client,
        { registry: from, repository: first.repository, digest },
        { registry: to, repository: first.repository },
        [tag],
      );
      if (result.tags.unchanged.includes(tag)) {
        // copyImage's HEAD of the target tag answered this digest: that is the verification.
        return { ...report, action: "present" as const, verified: true, requests: tally.total };
      }
      const head = await options.client.manifestHead(to, first.repository, tag);
      const verified = head?.digest === digest;
      return {
        ...report,
        action: verified ? ("copied" as const) : ("failed" as const),
        verified,
        bytes: result.bytes,
        requests: tally.total,
        error: verified ? null : `the target answered ${head?.digest ?? "nothing"} for ${tag} after the copy`,
      };
    });
  } catch (err) {
    const missing = statusOf(err) === 404;
    return {
      ...report,
      requests: tally.total,
      error: missing
        ? `${first.registry}/${first.repository}@${digest} not found upstream${from !== first.registry ? ` (read from ${from})` : ""}`
        : err instanceof Error
          ? err.message
          : String(err),
    };
  }
}

/** The HTTP status of a registry error, looked for along the cause chain (a CopyError wraps what failed). */
function statusOf(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof RegistryError) return e.status;
  }
  return undefined;
}
