/**
 * How one image gets to the target: streamed through our client, or imported by ACR itself. `stream` always streams;
 * `import` always imports (an image import cannot do is an error); `auto` imports when the target is an ACR, import
 * is configured and ACR can reach the source, streams otherwise, and streams after ACR refuses (more than 50
 * manifests, no Range support, a role missing...). The executor calls one `ImageCopier` per outdated tag.
 */
import type { CopyJob, CopyOutcome, ImageCopier, StreamCopy } from "../sync/ports";
import { ImportError, reachableByAcr, type AcrImporter } from "./importer";
import { isAcrHost } from "./catalog";

export type CopyMode = "stream" | "import" | "auto";
/** The modes COPY_MODE accepts (declared with the settings contract). */
export { COPY_MODES } from "../settings";

export type { CopyJob, CopyOutcome, ImageCopier, StreamCopy } from "../sync/ports";

export interface ModeContext {
  /** The target registry is an ACR. */
  targetIsAcr: boolean;
  /** An importer is configured (subscription, resource group, registry name) for this target. */
  importConfigured: boolean;
  /** ACR can reach the source (not loopback or private). */
  sourceReachable: boolean;
  /** The whole index is copied (import cannot filter platforms). */
  wholeIndex: boolean;
}

export type ModeDecision = { use: "stream"; reason: string } | { use: "import"; reason: string };

/** Pure: which path an image takes before anything is tried. */
export function chooseCopyMode(mode: CopyMode, ctx: ModeContext): ModeDecision {
  if (mode === "stream") return { use: "stream", reason: "mode stream" };
  if (mode === "import") return { use: "import", reason: "mode import" };
  if (!ctx.targetIsAcr) return { use: "stream", reason: "target is not an ACR" };
  if (!ctx.importConfigured) return { use: "stream", reason: "import is not configured" };
  if (!ctx.wholeIndex) return { use: "stream", reason: "platforms are filtered; import copies every platform" };
  if (!ctx.sourceReachable) return { use: "stream", reason: "ACR cannot reach the source" };
  return { use: "import", reason: "target is an ACR and ACR can reach the source" };
}

/** Pure: whether a failed import is retried as a stream. Only in `auto`, and only for an import that failed. */
export function shouldFallBackToStream(mode: CopyMode, err: unknown): boolean {
  return mode === "auto" && err instanceof ImportError;
}

export interface CopierOptions {
  /** Global mode; a job's own `mode` wins. */
  mode: CopyMode;
  stream: StreamCopy;
  /** The importer for the target ACR; needed for `import`, optional for `auto`. */
  importer?: AcrImporter;
  /** Which registries are ACRs; default by host name (`*.azurecr.io`). A test names its stand-in. */
  isAcr?: (registry: string) => boolean;
  /** Which sources ACR can reach; default `reachableByAcr` (not loopback, not private). */
  reachable?: (registry: string) => boolean;
  /** Told every decision and every fallback (for logs and results). */
  onDecision?: (job: CopyJob, decision: ModeDecision | { use: "stream"; reason: string; fallback: true }) => void;
}

/** The copier the executor calls: mode decision, import, and the fallback to streaming. */
export function createImageCopier(options: CopierOptions): ImageCopier {
  const isAcr = options.isAcr ?? isAcrHost;
  const reachable = options.reachable ?? reachableByAcr;
  const stream = async (job: CopyJob, fallback?: string): Promise<CopyOutcome> => {
    const started = Date.now();
    const r = await options.stream(job);
    return {
      digest: r.digest,
      bytes: r.bytes,
      via: "stream",
      durationMs: Date.now() - started,
      ...(fallback ? { fallback } : {}),
    };
  };
  return async (job) => {
    const mode = job.mode ?? options.mode;
    const decision = chooseCopyMode(mode, {
      targetIsAcr: isAcr(job.target.registry),
      importConfigured: options.importer !== undefined,
      sourceReachable: reachable(job.source.registry),
      wholeIndex: !job.platforms || job.platforms.length === 0,
    });
    options.onDecision?.(job, decision);
    if (decision.use === "stream") return stream(job);
    if (!options.importer) throw new ImportError("mode import, but no importer is configured", "unsupported");
    try {
      return await options.importer.copyByImport(job);
    } catch (err) {
      if (!shouldFallBackToStream(mode, err)) throw err;
      const reason = `import failed, streamed instead: ${(err as Error).message}`;
      options.onDecision?.(job, { use: "stream", reason, fallback: true });
      return stream(job, reason);
    }
  };
}
