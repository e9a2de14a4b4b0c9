// Base images of managed images: enrollment, Dockerfile bases, graph, rebuild eligibility, report, triggers.
export { parseEnrollment, loadEnrollmentFile, type LoadedEnrollment } from "./enrollment";
export * from "./enrollmentTypes";
export {
  parseDockerfile,
  DockerfileError,
  type ParsedDockerfile,
  type DockerfileBase,
  type DockerfileIssue,
} from "./dockerfile";
export { dockerfileReader, DockerfileSourceError, type DockerfileReader } from "./dockerfileSource";
export { discoverBases, type Discovery } from "./discovery";
export { buildBaseGraph, type BaseGraph, type GraphBase, type GraphImage } from "./graph";
export { judgeImage, staleSince, type Evidence, type ImageVerdict, type BaseVerdict } from "./eligibility";
export { basesSyncEntries, externalEntries, type SyncContext } from "./syncEntries";
export {
  basesReport,
  basesMetrics,
  emitBasesMetrics,
  type BasesDeps,
  type BasesReport,
  type BasesMetrics,
  type ManagedReport,
  type ExternalReport,
} from "./report";
export { triggerRebuilds, sendRebuildTrigger, TriggerError, type TriggerDeps, type TriggerOutcome } from "./trigger";
export { tokenResolver, TokenError, type TokenResolver } from "./tokens";
