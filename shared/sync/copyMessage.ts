/**
 * Queue mode: the timer plans and sends one message per outdated tag; the queue function copies it. A message is
 * the plan item itself, validated on the way in (it crossed a process boundary). Copying is idempotent — a second
 * delivery finds the target tags already at the digest and stops after two HEADs — so the host's at-least-once
 * delivery and its retries are safe.
 */
import type { RegistryClient } from "../registry/client";
import { isDigest } from "../registry/reference";
import type { SyncStore } from "../store/syncStore";
import { copyPlanItem, statusOf } from "./executor";
import { IMAGE_STATES, type ImageResult, type PlanItem } from "./model";
import type { SyncPorts } from "./ports";
import { RateLimitReserveError } from "./rateBudget";

export interface CopyMessage {
  version: 1;
  runId: string;
  item: PlanItem;
}

export class CopyMessageError extends Error {
  constructor(reason: string) {
    super(`copy message rejected: ${reason}`);
    this.name = "CopyMessageError";
  }
}

export function toCopyMessages(items: readonly PlanItem[], runId: string): CopyMessage[] {
  return items.map((item) => ({ version: 1, runId, item }));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isText = (v: unknown, max = 512): v is string => typeof v === "string" && v.length > 0 && v.length <= max;

/** Accepts the parsed JSON (the Functions host hands over objects) or the raw text. */
export function parseCopyMessage(raw: unknown): CopyMessage {
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new CopyMessageError("not JSON");
    }
  }
  if (!isObject(value) || value.version !== 1) throw new CopyMessageError("expected {version: 1, runId, item}");
  if (!isText(value.runId, 64) || !/^[A-Za-z0-9_-]+$/.test(value.runId)) throw new CopyMessageError("bad runId");
  const item = value.item;
  if (!isObject(item) || !isObject(item.source) || !isObject(item.target))
    throw new CopyMessageError("item needs source and target");
  const { source, target } = item;
  if (!isText(source.registry) || !isText(source.repository))
    throw new CopyMessageError("item.source needs registry and repository");
  if (!isText(target.registry) || !isText(target.repository) || !isText(target.tag, 128)) {
    throw new CopyMessageError("item.target needs registry, repository and tag");
  }
  if (typeof item.sourceDigest !== "string" || !isDigest(item.sourceDigest)) {
    throw new CopyMessageError("item.sourceDigest must be a digest: a queued copy is always by digest");
  }
  if (typeof item.state !== "string" || !IMAGE_STATES.includes(item.state as never))
    throw new CopyMessageError("bad item.state");
  if (!isText(item.key, 1024) || !isText(item.origin, 1024)) throw new CopyMessageError("item needs key and origin");
  if (item.pinTag !== undefined && !isText(item.pinTag, 128)) throw new CopyMessageError("bad item.pinTag");
  if (item.platforms !== undefined && !Array.isArray(item.platforms)) throw new CopyMessageError("bad item.platforms");
  if (item.referrers !== undefined) {
    const types = isObject(item.referrers) ? item.referrers.artifactTypes : null;
    const ok =
      types === undefined || (Array.isArray(types) && types.length <= 32 && types.every((t) => isText(t, 255)));
    if (!ok) throw new CopyMessageError("bad item.referrers");
  }
  if (item.referrersOnly !== undefined && item.referrersOnly !== true)
    throw new CopyMessageError("bad item.referrersOnly");
  if (item.signedBy !== undefined && !isText(item.signedBy, 200)) throw new CopyMessageError("bad item.signedBy");
  return { version: 1, runId: value.runId, item: item as unknown as PlanItem };
}

/** The upstream pull quota shared by every copy worker (RATE_LIMIT_RESERVE, RegistryLimits in the store). */
export interface SharedQuota {
  reserve: number;
}

/**
 * Copies the message's tag, then records the result under the run that planned it and updates the status row.
 * `ports` (built for this message) decide stream or import and refuse to move a tag locked in ACR. With `quota` and a
 * store, one pull is taken from the source host's stored quota first (shared by every worker on every instance,
 * `SyncStore.takeFromLimit`); a copy that would dip into the reserve is skipped, recorded, and left for a later run,
 * never retried by the queue.
 */
export async function copyFromMessage(
  client: RegistryClient,
  message: CopyMessage,
  store: SyncStore | undefined,
  now: () => Date = () => new Date(),
  ports?: SyncPorts,
  quota?: SharedQuota,
): Promise<ImageResult> {
  const result =
    (await takePull(message.item, store, now, quota)) ??
    (await copyPlanItem(client, message.item, undefined, undefined, ports));
  if (store) {
    const previous = await store.getStatus(result.target);
    await store.saveResults(message.runId, [result]);
    await store.saveStatuses([statusOf(result, message.runId, now(), previous)]);
  }
  return result;
}

/** Docker Hub counts a pull per image pulled (up to two manifest GETs: an index and one platform's manifest). */
const PULLS_PER_COPY = 1;

async function takePull(
  item: PlanItem,
  store: SyncStore | undefined,
  now: () => Date,
  quota: SharedQuota | undefined,
): Promise<ImageResult | undefined> {
  if (!quota || !store) return undefined;
  const taken = await store.takeFromLimit(item.source.registry, PULLS_PER_COPY, quota.reserve, now());
  if (taken.outcome !== "refused") return undefined;
  const { host, remaining, resetAt } = taken.limit;
  return {
    ...item,
    action: "skipped",
    stateAfter: item.state,
    bytes: 0,
    durationMs: 0,
    error: new RateLimitReserveError(host, remaining, resetAt).message,
  };
}
