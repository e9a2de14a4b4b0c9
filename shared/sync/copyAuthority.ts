/**
 * A queued copy message is a pointer, never an order: whoever can send to the copy queue must not borrow the app's
 * identity to read a private image into a third registry, or to write any repository and tag in our ACR. So the
 * queue function trusts only the message's target key and expected digest, and re-derives everything else (source,
 * target, tags, platforms) from the sync config it loads itself. A message naming anything the config would not
 * plan is refused.
 */
import { digestTag, pinTagFor, selectTags, type Selection } from "./tagRules";
import type { ImageEntry, SyncConfig, TagRule } from "./configTypes";
import type { CopyMessage } from "./copyMessage";
import { OUTDATED_STATES, type PlanItem } from "./model";
import { origin } from "./planner";

export class CopyMessageRefusedError extends Error {
  constructor(reason: string) {
    super(`copy message refused: ${reason}`);
    this.name = "CopyMessageRefusedError";
  }
}

export interface CopyAuthority {
  config: SyncConfig;
  /** ACR_LOGIN_SERVER: when set, no target outside it is written whatever the config says. */
  acrLoginServer?: string | undefined;
  now: Date;
}

/** The tag `rule` would mirror to `targetTag` when the source holds `digest`, or undefined when it never would. */
function selectionFor(rule: TagRule, targetTag: string, digest: string): Selection | undefined {
  let selected: Selection[];
  switch (rule.kind) {
    case "digest":
      return rule.digest === digest && digestTag(digest) === targetTag
        ? { kind: "digest", digest, targetTag }
        : undefined;
    case "follow":
      // The moving tag and the candidate sibling share the expected digest, as the planner saw them.
      selected = selectTags(rule, [rule.tag, targetTag], { digests: () => digest }).selections;
      break;
    default:
      // The same rule code the planner runs, over a list of just this tag: filters, ranges and exclusions apply;
      // `newest`'s count cannot be checked without the upstream list, and a tag passing its filter is harmless.
      selected = selectTags(rule, [targetTag], { digests: () => digest, created: () => new Date(0) }).selections;
  }
  return selected.find((s) => s.targetTag === targetTag);
}

const same = (a: { registry: string; repository: string }, b: { registry: string; repository: string }) =>
  a.registry === b.registry && a.repository === b.repository;

function withinTarget(config: SyncConfig, acrLoginServer: string | undefined, target: PlanItem["target"]): boolean {
  if (target.registry !== config.target.registry) return false;
  if (acrLoginServer && target.registry !== acrLoginServer.toLowerCase()) return false;
  return config.target.prefix ? target.repository.startsWith(`${config.target.prefix}/`) : true;
}

/**
 * The plan item the current config makes of this message, or a CopyMessageRefusedError. Only `target` (which is
 * the key) and `sourceDigest` are taken from the message; everything else must agree with what is derived.
 */
export function authoriseCopy(message: CopyMessage, authority: CopyAuthority): PlanItem {
  const sent = message.item;
  const digest = sent.sourceDigest!;
  const { config } = authority;
  if (!withinTarget(config, authority.acrLoginServer, sent.target))
    throw new CopyMessageRefusedError("target outside the configured registry and prefix");
  if (sent.key !== `${sent.target.registry}/${sent.target.repository}:${sent.target.tag}`)
    throw new CopyMessageRefusedError("key does not name the target");
  if (!OUTDATED_STATES.has(sent.state)) throw new CopyMessageRefusedError(`state ${sent.state} is nothing to copy`);
  const entries: ImageEntry[] = [...config.images, ...config.serviceConfigs].filter((e) => same(e.target, sent.target));
  if (entries.length === 0) throw new CopyMessageRefusedError("no entry of the sync config writes that repository");
  for (const entry of entries) {
    if (!same(entry.source, sent.source)) continue;
    const selection = selectionFor(entry.rule, sent.target.tag, digest);
    if (!selection) continue;
    const sourceTag = selection.kind === "tag" ? selection.sourceTag : undefined;
    if (sent.source.tag !== undefined && sent.source.tag !== sourceTag) continue;
    const pinTag = entry.pinTag ? derivePinTag(sent.pinTag, digest, authority.now) : undefined;
    if (!entry.pinTag && sent.pinTag !== undefined)
      throw new CopyMessageRefusedError("pin tag the entry does not ask for");
    return {
      key: sent.key,
      source: { ...entry.source, ...(sourceTag !== undefined ? { tag: sourceTag } : {}) },
      sourceDigest: digest,
      target: { ...entry.target, tag: sent.target.tag },
      state: sent.state,
      origin: origin(entry),
      ...(pinTag ? { pinTag } : {}),
      ...(entry.platforms !== "all" ? { platforms: entry.platforms } : {}),
    };
  }
  throw new CopyMessageRefusedError("source, tag or digest differ from what the sync config would copy there");
}

/** A pin tag is `<YYYYMMDD>_sha256_<hex of this digest>`: the message's date is kept (idempotent redelivery). */
function derivePinTag(sent: string | undefined, digest: string, now: Date): string {
  if (sent === undefined) return pinTagFor(digest, now);
  if (!/^\d{8}_sha256_[0-9a-f]{64}$/.test(sent) || !sent.endsWith(`_sha256_${digestTag(digest)}`))
    throw new CopyMessageRefusedError("pin tag does not name the expected digest");
  return sent;
}
