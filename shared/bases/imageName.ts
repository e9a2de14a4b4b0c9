/**
 * How the bases feature names an image it watches: a repository with a tag, a digest, or both. One canonical text
 * per image, so a base written `node:20` in one Dockerfile and `docker.io/library/node:20` in another is one base.
 */
import { parseReference } from "../registry/reference";

export interface ImageName {
  /** Normalised registry host (`docker.io` for Docker Hub). */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/** `registry/repository`: the unit the sync mirrors and the unit a managed image is recognised by. */
export function repositoryKey(name: Pick<ImageName, "registry" | "repository">): string {
  return `${name.registry}/${name.repository}`;
}

/**
 * The key of what a Dockerfile follows: `registry/repository:tag` when there is a tag (a pinned digest beside it is
 * what was built, the tag is what moves), `registry/repository@digest` for a digest alone.
 */
export function watchKey(name: ImageName): string {
  if (name.tag !== undefined) return `${repositoryKey(name)}:${name.tag}`;
  return `${repositoryKey(name)}@${name.digest ?? ""}`;
}

/** Everything written: `registry/repository[:tag][@digest]`. */
export function fullName(name: ImageName): string {
  return `${repositoryKey(name)}${name.tag !== undefined ? `:${name.tag}` : ""}${name.digest ? `@${name.digest}` : ""}`;
}

/** Parses a reference as Docker does, `latest` when neither tag nor digest is given. Throws InvalidReferenceError. */
export function parseImageName(text: string): ImageName {
  const ref = parseReference(text);
  const tag = ref.tag ?? (ref.digest === undefined ? "latest" : undefined);
  return {
    registry: ref.registry,
    repository: ref.repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(ref.digest !== undefined ? { digest: ref.digest } : {}),
  };
}
