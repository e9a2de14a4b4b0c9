/**
 * Reference checks for config validation, on the registry client's grammar. A source differs from a general
 * reference: it may not carry a tag (tags belong to the tag rule) and its digest must be sha256 (the pin tag formats
 * assume it), and config errors are returned as text to be placed at a line.
 */

// One grammar for references: the registry client's (distribution's reference/regexp.go).
import {
  DOCKER_HUB,
  HOST,
  PATH_COMPONENT,
  SHA256_DIGEST,
  TAG,
  looksLikeHost,
  normaliseRegistry,
} from "../registry/reference";

export { normaliseRegistry };

export interface SourceReference {
  registry: string;
  repository: string;
  digest?: string;
}

export function isHost(value: string): boolean {
  return HOST.test(value);
}

export function isTag(value: string): boolean {
  return TAG.test(value);
}

/** Only sha256: the pin tag formats (`<hex>`, `<date>_sha256_<hex>`) assume it and stay under 128 characters. */
export function isSha256Digest(value: string): boolean {
  return SHA256_DIGEST.test(value);
}

/** Returns the reason a repository path is invalid, or undefined when it is fine. */
export function repositoryPathProblem(path: string): string | undefined {
  if (!path) return "is empty";
  if (path.length > 255) return "is longer than 255 characters";
  const bad = path.split("/").find((component) => !PATH_COMPONENT.test(component));
  if (bad !== undefined) return `"${bad}" is not a valid path component (lower-case letters, digits, . _ -)`;
  return undefined;
}

/**
 * Parses `repo` or `repo@sha256:…`; a `:tag` is refused because tags belong to the tag rule, and accepting one here
 * would leave two places that choose tags.
 */
export function parseSource(input: string): SourceReference | string {
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isSha256Digest(digest)) return `"${digest}" is not a sha256 digest (sha256:<64 lower-case hex>)`;
  }

  let registry = DOCKER_HUB;
  const slash = rest.indexOf("/");
  if (slash > 0 && looksLikeHost(rest.slice(0, slash))) {
    const host = rest.slice(0, slash);
    if (!isHost(host)) return `"${host}" is not a valid registry host`;
    registry = normaliseRegistry(host);
    rest = rest.slice(slash + 1);
  }

  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.indexOf(":", lastSlash + 1);
  if (colon >= 0) {
    return `has a tag (":${rest.slice(colon + 1)}"); give the repository only and choose tags with a tag rule`;
  }

  const repository = registry === DOCKER_HUB && !rest.includes("/") ? `library/${rest}` : rest;
  const problem = repositoryPathProblem(repository);
  if (problem) return `repository ${problem}`;
  return digest === undefined ? { registry, repository } : { registry, repository, digest };
}
