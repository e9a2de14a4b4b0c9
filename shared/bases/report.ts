/**
 * The bases report, transport-neutral and JSON-ready: managed images with their bases, which are stale and which
 * are eligible for a rebuild (and since when), the external images, the rebuild order, cycles and counts. Building
 * it records what it observes (digests first seen, enrollment transitions): facts about the world that only get
 * more precise the more often they are looked at, so calling it from a timer and from GET is both fine.
 */
import type { RegistryClient } from "../registry/client";
import type { BaseStore, TriggerRecord } from "../store/baseStore";
import type { ImageStatus } from "../store/syncStore";
import type { MetricsSink } from "../telemetry/metrics";
import { currentDigests, HeadCache, type CurrentDigest } from "./currentDigests";
import { discoverBases, type Discovery } from "./discovery";
import type { DockerfileReader } from "./dockerfileSource";
import { judgeImage, type BaseState, type BaseVerdict, type ImageVerdict } from "./eligibility";
import { reconcileEnrollment, type Transition } from "./enrollmentState";
import type { Enrollment, ExternalImage, TriggerKind } from "./enrollmentTypes";
import { edgeFacts, observeManaged } from "./evidence";
import type { GraphBase, GraphImage } from "./graph";
import { safeUrl } from "./http";
import { fullName } from "./imageName";
import { basesSyncEntries, covers, externalEntries, upstreamOf, type SyncContext } from "./syncEntries";

export interface BasesDeps {
  enrollment: Enrollment;
  /** The sync config (or the parts of it the merge needs). */
  sync: SyncContext;
  client: RegistryClient;
  store: BaseStore;
  /** How Dockerfiles are read; unused when `discovery` is given. */
  dockerfiles: DockerfileReader;
  /** The sync's status table, so mirrored bases cost no request. */
  status?: { statusByKey(): Promise<Map<string, ImageStatus>> };
  /** A discovery made earlier in the same run (e.g. for the sync merge), to read each Dockerfile once. */
  discovery?: Discovery;
}

export interface BaseReportEntry extends BaseVerdict {
  kind: "external" | "managed";
  /** For a managed base: its name in the enrollment. */
  managed?: string;
  pinned?: string;
  /** Dockerfile lines that use it. */
  lines: number[];
  via: ("from" | "copy")[];
  platforms: string[];
}

export interface ManagedReport {
  name: string;
  image: string;
  /** What the tag points at now. */
  digest?: string;
  dockerfile: string;
  build?: string;
  /** Since when the image has been enrolled as managed. */
  managedSince?: string;
  state: BaseState;
  stale: boolean;
  eligible: boolean;
  staleSince?: string;
  eligibleAt?: string;
  rebuildDelay: string;
  bases: BaseReportEntry[];
  /** Every external base reached directly or through managed bases. */
  transitiveBases: string[];
  /** Stale managed bases: rebuild those first, then this image picks them up. */
  waitingFor: string[];
  inCycle: boolean;
  reasons: string[];
  problems: string[];
  trigger?: { kind: TriggerKind; url: string; enabled: boolean; last?: TriggerRecord };
}

export interface ExternalReport {
  /** `registry/repository:tag`, `registry/repository@digest`, or for an enrolled image its repository. */
  image: string;
  /** Set for an image listed in the enrollment (consumed as is). */
  enrolledAs?: string;
  /** Managed images whose Dockerfiles use it. */
  usedBy: string[];
  critical: boolean;
  /** For a base named through the mirror: the upstream repository. */
  mirroredFrom?: string;
  current?: string;
  currentSince?: string;
  via?: "status" | "registry" | "digest";
  error?: string;
}

export interface BasesCounts {
  managedImages: number;
  externalImages: number;
  rebuildEligible: number;
  staleImages: number;
  unknownImages: number;
}

export interface BasesReport {
  generatedAt: string;
  enrollment: string;
  counts: BasesCounts;
  managed: ManagedReport[];
  external: ExternalReport[];
  /** Managed images, bases first: the order to rebuild in. */
  order: string[];
  cycles: string[][];
  /** Enrollment changes noticed by this call. */
  transitions: Transition[];
}

export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}

function dockerfileName(node: GraphImage): string {
  const location = node.image.dockerfile.location;
  return location.kind === "file" ? location.written : safeUrl(location.url);
}

function baseEntry(verdict: BaseVerdict, node: GraphImage, base: GraphBase): BaseReportEntry {
  const edge = node.edges.find((e) => e.base === verdict.base)!;
  const uses = edge.uses;
  return {
    ...verdict,
    kind: base.kind,
    ...(base.managed ? { managed: base.managed } : {}),
    ...(edge.pinned ? { pinned: edge.pinned } : {}),
    lines: [...new Set(uses.map((u) => u.line))],
    via: [...new Set(uses.map((u) => u.via))],
    platforms: [...new Set(uses.map((u) => u.platform).filter((p): p is string => p !== undefined))],
  };
}

function externalReports(
  discovery: Discovery,
  sync: SyncContext,
  current: ReadonlyMap<string, CurrentDigest>,
): ExternalReport[] {
  const { enrollment, graph } = discovery;
  const enrolled = enrollment.images.filter((i): i is ExternalImage => i.kind === "external");
  const entries = externalEntries(enrollment, sync);
  const usedAsBase = new Set<string>();
  const out: ExternalReport[] = [];
  for (const base of graph.bases.values()) {
    if (base.kind !== "external") continue;
    const upstream = upstreamOf(base);
    const at =
      upstream && base.tag !== undefined ? entries.findIndex((e) => covers(e, upstream, { tag: base.tag! })) : -1;
    const owner = at >= 0 ? enrolled[at] : undefined;
    if (owner) usedAsBase.add(owner.name);
    const now = current.get(base.key);
    out.push({
      image: base.key,
      ...(owner ? { enrolledAs: owner.name } : {}),
      usedBy: base.usedBy,
      critical: base.critical,
      ...(base.mirroredFrom ? { mirroredFrom: `${base.mirroredFrom.registry}/${base.mirroredFrom.repository}` } : {}),
      ...(now?.ok ? { current: now.digest, currentSince: now.since, via: now.via } : {}),
      ...(now && !now.ok ? { error: now.error } : {}),
    });
  }
  for (const image of enrolled) {
    if (usedAsBase.has(image.name)) continue;
    out.push({ image: fullName(image.image), enrolledAs: image.name, usedBy: [], critical: false });
  }
  return out;
}

export async function basesReport(deps: BasesDeps, options: { now: Date }): Promise<BasesReport> {
  const { now } = options;
  const discovery = deps.discovery ?? (await discoverBases(deps.enrollment, deps.dockerfiles, deps.sync));
  const { enrollment, graph } = discovery;
  const entries = [...deps.sync.images, ...(deps.sync.serviceConfigs ?? []), ...basesSyncEntries(discovery, deps.sync)];
  const statuses = (await deps.status?.statusByKey()) ?? new Map<string, ImageStatus>();
  const heads = new HeadCache(deps.client);
  const current = await currentDigests(
    graph,
    { client: deps.client, store: deps.store, statuses, entries },
    heads,
    now,
  );
  const state = await reconcileEnrollment(deps.store, enrollment, graph, current, now);
  const evidenceDeps = { client: deps.client, store: deps.store, heads };

  const verdicts = new Map<string, { node: GraphImage; verdict: ImageVerdict; digest?: string; problems: string[] }>();
  for (const node of graph.images.values()) {
    const observed = await observeManaged(node, evidenceDeps);
    const record = state.records.get(node.name);
    const edges = await edgeFacts(node, observed, record, graph, current, evidenceDeps);
    const cycle = graph.cycles.find((c) => c.includes(node.name));
    const blocked = node.problem ?? (cycle ? `in a dependency cycle: ${cycle.join(" → ")}` : undefined);
    const verdict = judgeImage(
      {
        name: node.name,
        delayMs: node.image.rebuildDelayMs,
        ...(observed.facts?.created ? { builtAt: observed.facts.created } : {}),
        edges,
        ...(blocked ? { blocked } : {}),
      },
      now,
    );
    verdicts.set(node.name, {
      node,
      verdict,
      ...(observed.digest ? { digest: observed.digest } : {}),
      problems: observed.problems,
    });
  }

  const managed: ManagedReport[] = [];
  for (const name of graph.order) {
    const { node, verdict, digest, problems } = verdicts.get(name)!;
    const record = state.records.get(name);
    const trigger = node.image.trigger;
    managed.push({
      name,
      image: fullName(node.image.image),
      ...(digest ? { digest } : {}),
      dockerfile: dockerfileName(node),
      ...(node.image.buildLink ? { build: node.image.buildLink } : {}),
      ...(record?.kind === "managed" ? { managedSince: record.since } : {}),
      state: verdict.state,
      stale: verdict.stale,
      eligible: verdict.eligible,
      ...(verdict.staleSince ? { staleSince: verdict.staleSince } : {}),
      ...(verdict.eligibleAt ? { eligibleAt: verdict.eligibleAt } : {}),
      rebuildDelay: formatDuration(node.image.rebuildDelayMs),
      bases: verdict.bases.map((b) => baseEntry(b, node, graph.bases.get(b.base)!)),
      transitiveBases: node.externalClosure,
      waitingFor: node.managedBases.filter((m) => verdicts.get(m)?.verdict.stale),
      inCycle: node.inCycle,
      reasons: verdict.reasons,
      problems: [...(node.problem ? [node.problem] : []), ...problems],
      ...(trigger
        ? {
            trigger: {
              kind: trigger.kind,
              url: safeUrl(trigger.url),
              enabled: trigger.enabled,
              ...(record?.lastTrigger ? { last: record.lastTrigger } : {}),
            },
          }
        : {}),
    });
  }
  const external = externalReports(discovery, deps.sync, current);
  return {
    generatedAt: now.toISOString(),
    enrollment: enrollment.file,
    counts: {
      managedImages: managed.length,
      externalImages: external.length,
      rebuildEligible: managed.filter((m) => m.eligible).length,
      staleImages: managed.filter((m) => m.stale).length,
      unknownImages: managed.filter((m) => m.state === "unknown").length,
    },
    managed,
    external,
    order: graph.order,
    cycles: graph.cycles,
    transitions: state.transitions,
  };
}

export interface BasesMetrics {
  managed_images: number;
  external_images: number;
  rebuild_eligible: number;
  stale_images: number;
}

export function basesMetrics(report: BasesReport): BasesMetrics {
  return {
    managed_images: report.counts.managedImages,
    external_images: report.counts.externalImages,
    rebuild_eligible: report.counts.rebuildEligible,
    stale_images: report.counts.staleImages,
  };
}

export function emitBasesMetrics(sink: MetricsSink, report: BasesReport): void {
  for (const [name, value] of Object.entries(basesMetrics(report))) sink.emit(name, value);
}
