/**
 * Just enough reference parsing for config validation.
 * TODO: replace with `parseReference` from `shared/registry/reference.ts` once that module settles; the shapes match
 * (registry normalised to `docker.io`, `library/` added for official images) so the swap is mechanical.
 */

const DOCKER_HUB = "docker.io";
const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]);

// From the distribution reference grammar (reference/regexp.go).
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

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

export function normaliseRegistry(host: string): string {
  const lower = host.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/** Returns the reason a repository path is invalid, or undefined when it is fine. */
export function repositoryPathProblem(path: string): string | undefined {
  if (!path) return "is empty";
  if (path.length > 255) return "is longer than 255 characters";
  const bad = path.split("/").find((component) => !PATH_COMPONENT.test(component));
  if (bad !== undefined) return `"${bad}" is not a valid path component (lower-case letters, digits, . _ -)`;
  return undefined;
}

function looksLikeHost(component: string): boolean {
  return component.includes(".") || component.includes(":") || component === "localhost";
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
