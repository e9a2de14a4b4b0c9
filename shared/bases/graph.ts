/**
 * The dependency graph: each managed image points at the bases its Dockerfile pulls; a base that is itself a managed
 * image points on, so "what does api depend on" is answered transitively. Cycles (a FROM b, b FROM a) cannot be
 * built and are reported, never followed forever.
 */
import type { RepositoryRef } from "../sync/configTypes";
import type { BaseUse, DockerfileBase, ParsedDockerfile } from "./dockerfile";
import type { CriticalBase, Enrollment, ManagedImage } from "./enrollmentTypes";
import { repositoryKey, watchKey, type ImageName } from "./imageName";

export interface GraphBase extends ImageName {
  /** `watchKey`: `registry/repository:tag`, or `registry/repository@digest` for a base pinned by digest alone. */
  key: string;
  kind: "external" | "managed";
  /** For a managed base: the enrolled image's name. */
  managed?: string;
  /** For a base named through the mirror in the sync target registry: where the sync copies it from. */
  mirroredFrom?: RepositoryRef;
  /** True when the base lives in the sync target registry: never a sync source itself. */
  inTarget: boolean;
  critical: boolean;
  /** Managed image names that use it, in enrollment order. */
  usedBy: string[];
}

export interface BaseEdge {
  base: string;
  /** A digest written in the Dockerfile next to the tag (`node:20@sha256:…`): what the next build uses. */
  pinned?: string;
  uses: BaseUse[];
  /** The root of the last stage: the base whose layers the built image starts with. */
  final: boolean;
}

export interface GraphImage {
  name: string;
  image: ManagedImage;
  /** Direct bases, in Dockerfile order. Empty when the Dockerfile could not be read. */
  edges: BaseEdge[];
  /** Names of managed images among the direct bases. */
  managedBases: string[];
  /** Every external base reached directly or through managed bases, in first-reached order. */
  externalClosure: string[];
  inCycle: boolean;
  /** Why the Dockerfile gave no bases (unreadable, invalid). */
  problem?: string;
}

export interface BaseGraph {
  images: Map<string, GraphImage>;
  bases: Map<string, GraphBase>;
  /** Each cycle once, as a path that starts and ends with the same image: `[a, b, a]`. */
  cycles: string[][];
  /** Managed images with their managed bases first: the order to rebuild in. Images in a cycle come last. */
  order: string[];
}

/** What the graph needs to know about the sync: where mirrors live, to name upstreams of mirror references. */
export interface MirrorContext {
  target: { registry: string; prefix?: string };
  /** Sync entries (config images, enrolled externals): a target repository here maps back to its source. */
  entries: readonly { source: RepositoryRef; target: RepositoryRef }[];
}

export type DockerfileOutcome = { ok: true; parsed: ParsedDockerfile } | { ok: false; problem: string };

function isCritical(critical: readonly CriticalBase[], name: ImageName, upstream?: RepositoryRef): boolean {
  const repos = [repositoryKey(name), ...(upstream ? [repositoryKey(upstream)] : [])];
  return critical.some((c) => repos.includes(repositoryKey(c)) && (c.tag === undefined || c.tag === name.tag));
}

/** The managed image a FROM names: the same repository and tag, else the only (or first) one of that repository. */
function managedFor(images: readonly ManagedImage[], base: ImageName): ManagedImage | undefined {
  const sameRepo = images.filter((m) => repositoryKey(m.image) === repositoryKey(base));
  return sameRepo.find((m) => m.image.tag === base.tag) ?? sameRepo[0];
}

function describeBase(b: DockerfileBase): ImageName {
  // The tag is what is followed; a pin beside it belongs to the edge (each Dockerfile pins its own digest).
  if (b.tag !== undefined) return { registry: b.registry, repository: b.repository, tag: b.tag };
  return { registry: b.registry, repository: b.repository, ...(b.digest ? { digest: b.digest } : {}) };
}

function newBase(
  enrollment: Enrollment,
  managedImages: readonly ManagedImage[],
  mirror: MirrorContext | undefined,
  b: DockerfileBase,
): GraphBase {
  const name = describeBase(b);
  const managed = managedFor(managedImages, name);
  const inTarget = mirror !== undefined && b.registry === mirror.target.registry;
  const mirroredFrom = inTarget
    ? mirror.entries.find((e) => e.target.registry === b.registry && e.target.repository === b.repository)?.source
    : undefined;
  return {
    ...name,
    key: watchKey(name),
    kind: managed ? "managed" : "external",
    ...(managed ? { managed: managed.name } : {}),
    ...(mirroredFrom && !managed
      ? { mirroredFrom: { registry: mirroredFrom.registry, repository: mirroredFrom.repository } }
      : {}),
    inTarget,
    critical: isCritical(enrollment.critical, name, mirroredFrom),
    usedBy: [],
  };
}

/** Every cycle among managed images, each once, by depth-first search with the path on a stack. */
function findCycles(images: Map<string, GraphImage>): string[][] {
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (name: string): void => {
    state.set(name, "open");
    stack.push(name);
    for (const next of images.get(name)?.managedBases ?? []) {
      if (state.get(next) === "open") {
        const cycle = stack.slice(stack.indexOf(next));
        // One cycle, whichever image the search entered it by: rotate to start at the smallest name.
        const start = cycle.indexOf([...cycle].sort()[0]!);
        const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
        const id = rotated.join(" → ");
        if (!seen.has(id)) {
          seen.add(id);
          cycles.push([...rotated, rotated[0]!]);
        }
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    state.set(name, "done");
  };
  for (const name of images.keys()) if (!state.has(name)) visit(name);
  return cycles;
}

/** Bases first; each image after every managed base it has, unless a cycle makes that impossible. */
function rebuildOrder(images: Map<string, GraphImage>): string[] {
  const order: string[] = [];
  const placed = new Set<string>();
  const place = (name: string): void => {
    if (placed.has(name)) return;
    placed.add(name);
    const image = images.get(name);
    if (!image || image.inCycle) return;
    for (const base of image.managedBases) place(base);
    order.push(name);
  };
  for (const name of images.keys()) place(name);
  const cyclic = [...images.values()].filter((i) => i.inCycle).map((i) => i.name);
  return [...order.filter((n) => !cyclic.includes(n)), ...cyclic];
}

function closure(images: Map<string, GraphImage>, bases: Map<string, GraphBase>, start: string): string[] {
  const out: string[] = [];
  const visited = new Set<string>();
  const walk = (name: string): void => {
    if (visited.has(name)) return;
    visited.add(name);
    for (const edge of images.get(name)?.edges ?? []) {
      const base = bases.get(edge.base);
      if (base?.kind === "external" && !out.includes(base.key)) out.push(base.key);
      if (base?.managed) walk(base.managed);
    }
  };
  walk(start);
  return out;
}

/**
 * Builds the graph from the enrollment and each managed image's parsed Dockerfile (or why it has none). `mirror`
 * lets a FROM that names the mirror (`myacr.azurecr.io/mirror/library/node:20`) be traced to its upstream.
 */
export function buildBaseGraph(
  enrollment: Enrollment,
  dockerfiles: ReadonlyMap<string, DockerfileOutcome>,
  mirror?: MirrorContext,
): BaseGraph {
  const managedImages = enrollment.images.filter((i): i is ManagedImage => i.kind === "managed");
  const images = new Map<string, GraphImage>();
  const bases = new Map<string, GraphBase>();
  for (const image of managedImages) {
    const outcome = dockerfiles.get(image.name) ?? { ok: false, problem: "Dockerfile not read" };
    const node: GraphImage = {
      name: image.name,
      image,
      edges: [],
      managedBases: [],
      externalClosure: [],
      inCycle: false,
      ...(outcome.ok ? {} : { problem: outcome.problem }),
    };
    images.set(image.name, node);
    if (!outcome.ok) continue;
    for (const b of outcome.parsed.bases) {
      const name = describeBase(b);
      const key = watchKey(name);
      let base = bases.get(key);
      if (!base) {
        base = newBase(enrollment, managedImages, mirror, b);
        bases.set(key, base);
      }
      if (!base.usedBy.includes(image.name)) base.usedBy.push(image.name);
      node.edges.push({
        base: key,
        ...(b.tag !== undefined && b.digest ? { pinned: b.digest } : {}),
        uses: b.uses,
        final: outcome.parsed.finalBase === b.key,
      });
      if (base.managed && !node.managedBases.includes(base.managed)) node.managedBases.push(base.managed);
    }
  }
  const cycles = findCycles(images);
  for (const cycle of cycles) for (const name of cycle) images.get(name)!.inCycle = true;
  for (const image of images.values()) image.externalClosure = closure(images, bases, image.name);
  return { images, bases, cycles, order: rebuildOrder(images) };
}
