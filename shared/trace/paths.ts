import { InvalidCommitError, InvalidPathError } from "./errors";

const COMMIT = /^[0-9a-fA-F]{7,40}$/;

/** Commits reach git's command line and URLs; only hex is accepted so no ref name or option can slip through. */
export function validateCommit(commit: string): string {
  if (!COMMIT.test(commit)) throw new InvalidCommitError(commit);
  return commit.toLowerCase();
}

/**
 * File paths come from service definitions and may one day come from requests: they must stay inside the
 * repository whatever the source (git tree, directory or URL).
 */
export function validateRepoPath(path: string): string {
  if (path.length === 0) throw new InvalidPathError(path, "empty");
  if (path.length > 1024) throw new InvalidPathError(path, "longer than 1024 characters");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) throw new InvalidPathError(path, "contains control characters");
  if (path.includes("\\")) throw new InvalidPathError(path, "use forward slashes");
  if (path.startsWith("/") || /^[a-zA-Z]:/.test(path)) throw new InvalidPathError(path, "must be relative");
  const segments = path.split("/");
  if (segments.some((s) => s === "..")) throw new InvalidPathError(path, `must not contain ".."`);
  if (segments.some((s) => s === "" || s === ".")) throw new InvalidPathError(path, "empty or '.' segment");
  return path;
}

/** Joins a path relative to the directory of `file` (how `$schema` references resolve), then re-validates it. */
export function siblingPath(file: string, relative: string): string {
  const slash = file.lastIndexOf("/");
  const joined = slash >= 0 ? `${file.slice(0, slash)}/${relative}` : relative;
  const out: string[] = [];
  for (const segment of joined.split("/")) {
    if (segment === "." || segment === "") continue;
    if (segment === "..") {
      if (out.length === 0) throw new InvalidPathError(relative, `leaves the repository relative to ${file}`);
      out.pop();
    } else {
      out.push(segment);
    }
  }
  return validateRepoPath(out.join("/"));
}

// Branch and tag names as people write them (`main`, `release/2025-12`, `v1.2.3`): letters, digits and `._/-` only,
// so no revision syntax (`~`, `^`, `:`, `@{`), no option (`-x`) and no path trick (`..`, `//`) reaches git.
const REF = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/;

/** True for 7 to 40 hex digits: a (possibly abbreviated) commit id rather than a ref name. */
export function isCommitId(value: string): boolean {
  return COMMIT.test(value);
}

/**
 * A commit id, or a ref name restricted to a grammar that git and URLs take literally. Returns the value (commit ids
 * lower-cased); throws InvalidCommitError otherwise.
 */
export function validateCommitOrRef(value: string): string {
  if (COMMIT.test(value)) return value.toLowerCase();
  if (
    !REF.test(value) ||
    value.includes("..") ||
    value.includes("//") ||
    value.includes("/.") ||
    value.endsWith("/") ||
    value.endsWith(".") ||
    value.endsWith(".lock")
  ) {
    throw new InvalidCommitError(
      value,
      "7 to 40 hexadecimal characters, or a branch or tag name (letters, digits, ._/-)",
    );
  }
  return value;
}
