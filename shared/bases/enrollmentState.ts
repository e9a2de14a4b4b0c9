/**
 * Enrollment over time: an image becomes managed when its entry gains a Dockerfile and external when it loses it.
 * On becoming managed (and whenever a base joins its Dockerfile) the bases' current digests are recorded as the
 * baseline, the weakest evidence of what it was built from: used only when the image itself cannot tell.
 */
import type { BaseStore, EnrollmentRecord } from "../store/baseStore";
import type { CurrentDigest } from "./currentDigests";
import type { Enrollment } from "./enrollmentTypes";
import type { BaseGraph } from "./graph";
import { fullName } from "./imageName";

export type EnrollmentKind = EnrollmentRecord["kind"];

export interface Transition {
  name: string;
  from: EnrollmentKind | "none";
  to: EnrollmentKind | "removed";
  at: string;
}

export interface EnrollmentState {
  records: Map<string, EnrollmentRecord>;
  /** What changed in this call. */
  transitions: Transition[];
}

function sameBaseline(a: EnrollmentRecord["baseline"], b: EnrollmentRecord["baseline"]): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k]?.digest === a[k]?.digest);
}

export async function reconcileEnrollment(
  store: BaseStore,
  enrollment: Enrollment,
  graph: BaseGraph,
  current: ReadonlyMap<string, CurrentDigest>,
  now: Date,
): Promise<EnrollmentState> {
  const at = now.toISOString();
  const stored = await store.listEnrollments();
  const records = new Map<string, EnrollmentRecord>();
  const transitions: Transition[] = [];
  for (const image of enrollment.images) {
    const before = stored.get(image.name);
    const changed = before?.kind !== image.kind;
    if (changed) transitions.push({ name: image.name, from: before?.kind ?? "none", to: image.kind, at });
    const record: EnrollmentRecord = changed
      ? { name: image.name, kind: image.kind, since: at, image: fullName(image.image), baseline: {} }
      : { ...before, image: fullName(image.image), baseline: { ...before.baseline } };
    const node = graph.images.get(image.name);
    // An unreadable Dockerfile says nothing about the bases: keep the baseline rather than forget it.
    if (image.kind === "managed" && node && !node.problem) {
      const keys = new Set(node.edges.map((e) => e.base));
      for (const key of Object.keys(record.baseline)) if (!keys.has(key)) delete record.baseline[key];
      for (const key of keys) {
        const seen = current.get(key);
        if (!record.baseline[key] && seen?.ok) record.baseline[key] = { digest: seen.digest, at };
      }
    }
    if (changed || !before || before.image !== record.image || !sameBaseline(before.baseline, record.baseline)) {
      await store.saveEnrollment(record);
    }
    records.set(image.name, record);
  }
  for (const name of stored.keys()) {
    if (records.has(name)) continue;
    await store.deleteEnrollment(name);
    transitions.push({ name, from: stored.get(name)!.kind, to: "removed", at });
  }
  return { records, transitions };
}
