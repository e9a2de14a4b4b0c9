/**
 * Discovery: read and parse every managed image's Dockerfile, then build the graph. One unreadable or invalid
 * Dockerfile makes that image's bases unknown and never stops the others.
 */
import { DockerfileError, parseDockerfile } from "./dockerfile";
import { DockerfileSourceError, type DockerfileReader } from "./dockerfileSource";
import type { Enrollment, ManagedImage } from "./enrollmentTypes";
import { buildBaseGraph, type BaseGraph, type DockerfileOutcome } from "./graph";
import { mirrorContext, type SyncContext } from "./syncEntries";

export interface Discovery {
  enrollment: Enrollment;
  graph: BaseGraph;
  dockerfiles: Map<string, DockerfileOutcome>;
}

async function readOne(image: ManagedImage, read: DockerfileReader): Promise<DockerfileOutcome> {
  try {
    const { text, file } = await read(image);
    return { ok: true, parsed: parseDockerfile(text, { file, buildArgs: image.dockerfile.buildArgs }) };
  } catch (err) {
    if (err instanceof DockerfileError || err instanceof DockerfileSourceError)
      return { ok: false, problem: err.message };
    throw err;
  }
}

export async function discoverBases(
  enrollment: Enrollment,
  read: DockerfileReader,
  sync?: SyncContext,
): Promise<Discovery> {
  const dockerfiles = new Map<string, DockerfileOutcome>();
  // Sequential: Dockerfiles are few and small, and a burst of fetches to one source host gains nothing.
  for (const image of enrollment.images) {
    if (image.kind === "managed") dockerfiles.set(image.name, await readOne(image, read));
  }
  const graph = buildBaseGraph(enrollment, dockerfiles, sync ? mirrorContext(enrollment, sync) : undefined);
  return { enrollment, graph, dockerfiles };
}
