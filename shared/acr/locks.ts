/**
 * ACR image locks: after a copy, the mirrored manifest gets ACR's write and delete protection
 * (`updateManifestProperties({ canWrite: false, canDelete: false })`), so neither a push nor a prune can change what
 * the tags point at. A locked tag that drifted upstream is reported, never forced: the guard refuses the copy.
 */
import { normaliseRegistry } from "../registry/reference";
import type { AcrCatalog, AcrClients } from "./catalog";
import { TagLockedError, type CopyJob, type ImageCopier, type LockState } from "../sync/ports";
import { sdkErrorInfo } from "./sdk";

export { TagLockedError, type LockState } from "../sync/ports";

export class AcrLocks implements LockState {
  constructor(
    private readonly clients: AcrClients,
    private readonly catalog: AcrCatalog,
  ) {}

  /** Write and delete protection on one manifest (by digest, so no tag lookup is spent). */
  async lock(registry: string, repository: string, digest: string): Promise<void> {
    await this.setProtection(registry, repository, digest, false);
  }

  /** Lifts both protections, e.g. before a deliberate update or a prune. */
  async unlock(registry: string, repository: string, digest: string): Promise<void> {
    await this.setProtection(registry, repository, digest, true);
  }

  /** From the run's snapshot of the repository (no extra request when the planner listed it already). */
  async lockedDigest(registry: string, repository: string, tag: string): Promise<string | undefined> {
    const snapshot = await this.catalog.snapshot(registry, repository);
    const digest = snapshot.tags.get(tag);
    if (!digest) return undefined;
    const manifest = snapshot.manifests.find((m) => m.digest === digest);
    return manifest && !manifest.canWrite ? digest : undefined;
  }

  /** Every write-protected tag of a repository and its digest. */
  async lockedTags(registry: string, repository: string): Promise<Map<string, string>> {
    const snapshot = await this.catalog.snapshot(registry, repository);
    const out = new Map<string, string>();
    for (const m of snapshot.manifests) if (!m.canWrite) for (const t of m.tags) out.set(t, m.digest);
    return out;
  }

  private async setProtection(registry: string, repository: string, digest: string, enabled: boolean): Promise<void> {
    const artifact = this.clients.forRegistry(registry).getRepository(repository).getArtifact(digest);
    try {
      await artifact.updateManifestProperties({ canWrite: enabled, canDelete: enabled });
    } catch (err) {
      const info = sdkErrorInfo(err);
      throw new Error(
        `${enabled ? "unlock" : "lock"} ${normaliseRegistry(registry)}/${repository}@${digest}: ${info.status ?? ""} ${info.code ?? ""} ${info.message}`.replace(
          /\s+/g,
          " ",
        ),
        { cause: err },
      );
    }
    await this.catalog.noteProtection(registry, repository, digest, enabled, enabled);
  }
}

export interface LockGuardOptions {
  /** Lock the manifest after every successful copy (setting LOCK_IMAGES). A failed lock never fails the copy. */
  lockAfterCopy?: { lock(registry: string, repository: string, digest: string): Promise<void> };
  /** Which target registries have locks at all (ACRs); others pass straight through. */
  appliesTo?: (registry: string) => boolean;
}

/**
 * Wraps a copier: refuses (TagLockedError) to move a tag whose manifest is write-protected to another digest, and
 * optionally locks what it copied. A locked tag already at the wanted digest is no copy at all, so it passes.
 */
export function withLockGuard(copier: ImageCopier, locks: LockState, options: LockGuardOptions = {}): ImageCopier {
  return async (job: CopyJob) => {
    const applies = options.appliesTo?.(job.target.registry) ?? true;
    if (applies) {
      for (const tag of job.tags) {
        const locked = await locks.lockedDigest(job.target.registry, job.target.repository, tag);
        if (locked && locked !== job.source.digest) {
          throw new TagLockedError(job.target.registry, job.target.repository, tag, locked);
        }
      }
    }
    const outcome = await copier(job);
    if (!applies || !options.lockAfterCopy) return outcome;
    try {
      await options.lockAfterCopy.lock(job.target.registry, job.target.repository, outcome.digest);
      return { ...outcome, locked: true };
    } catch (err) {
      return { ...outcome, locked: false, lockError: err instanceof Error ? err.message : String(err) };
    }
  };
}
