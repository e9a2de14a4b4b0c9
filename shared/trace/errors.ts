/**
 * The trace's error vocabulary. Each class carries the facts a caller needs to answer a request with a 400 (bad
 * input) or a 500 (broken source) without parsing messages.
 */

/** Base class so HTTP and CLI layers can map every trace input problem to "bad request" in one check. */
export class TraceInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TraceInputError";
  }
}

export class InvalidCommitError extends TraceInputError {
  constructor(
    readonly commit: string,
    expected = "7 to 40 hexadecimal characters",
  ) {
    super(`invalid commit "${printable(commit)}": expected ${expected}`);
    this.name = "InvalidCommitError";
  }
}

export class InvalidPathError extends TraceInputError {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`invalid file path "${printable(path)}": ${reason}`);
    this.name = "InvalidPathError";
  }
}

/** Raised when the commit is well formed but the source does not have it. */
export class CommitNotFoundError extends TraceInputError {
  constructor(
    readonly commit: string,
    readonly source: string,
  ) {
    // An abbreviated commit that matches several objects fails the same way in git.
    super(`commit ${commit} not found${commit.length < 40 ? " (or ambiguous)" : ""} in ${source}`);
    this.name = "CommitNotFoundError";
  }
}

export class UnknownCloudError extends TraceInputError {
  constructor(
    readonly cloud: string,
    readonly validClouds: readonly string[],
  ) {
    super(`unknown cloud "${printable(cloud)}"; valid clouds: ${listOrNone(validClouds)}`);
    this.name = "UnknownCloudError";
  }
}

export class UnknownEnvironmentError extends TraceInputError {
  constructor(
    readonly cloud: string,
    readonly environment: string,
    readonly validEnvironments: readonly string[],
  ) {
    super(
      `unknown environment "${printable(environment)}" in cloud "${cloud}"; valid environments: ${listOrNone(validEnvironments)}`,
    );
    this.name = "UnknownEnvironmentError";
  }
}

/** A config, schema or service-definition file that cannot be read as data. */
export class ConfigFileError extends Error {
  constructor(
    readonly file: string,
    /** 1-based; 0 when the problem has no position (e.g. wrong top-level type). */
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(line > 0 ? `${file}:${line}:${column}: ${detail}` : `${file}: ${detail}`);
    this.name = "ConfigFileError";
  }
}

/** The layered file does not have the shape defaults / clouds / environments / regions promise. */
export class ConfigShapeError extends Error {
  constructor(
    readonly configPath: string,
    detail: string,
  ) {
    super(`${configPath}: ${detail}`);
    this.name = "ConfigShapeError";
  }
}

export class BaseFileMissingError extends Error {
  constructor(
    readonly file: string,
    readonly commit: string,
    readonly source: string,
  ) {
    super(`base config file ${file} does not exist at commit ${commit} in ${source}`);
    this.name = "BaseFileMissingError";
  }
}

export class ConfigSourceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConfigSourceError";
  }
}

function listOrNone(values: readonly string[]): string {
  return values.length > 0 ? values.join(", ") : "(none)";
}

// User input is echoed back in messages; cap it and drop control characters so it cannot forge log lines.
function printable(value: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, "?");
  return clean.length > 80 ? `${clean.slice(0, 80)}…` : clean;
}

/** One problem in a service definition, positioned for an editor or a CI log. */
export interface DefinitionIssue {
  /** 1-based; 0 when the problem has no position. */
  line: number;
  /** Field such as `overlays[1]`; empty for the document as a whole. */
  field: string;
  detail: string;
}

/** Every problem in a service definition at once, so it is fixed in one pass. */
export class ServiceDefinitionError extends Error {
  constructor(
    readonly file: string,
    readonly issues: readonly DefinitionIssue[],
  ) {
    super(
      issues
        .map((i) => `${file}${i.line > 0 ? `:${i.line}` : ""}: ${i.field ? `${i.field}: ` : ""}${i.detail}`)
        .join("\n"),
    );
    this.name = "ServiceDefinitionError";
  }
}

export class AmbiguousEnvironmentError extends TraceInputError {
  constructor(
    readonly environment: string,
    readonly clouds: readonly string[],
  ) {
    super(`environment "${printable(environment)}" exists in several clouds (${clouds.join(", ")}); name the cloud`);
    this.name = "AmbiguousEnvironmentError";
  }
}

/** A request field that is missing, of the wrong type, or outside its grammar (HTTP 400, CLI exit 2). */
export class InvalidInputError extends TraceInputError {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`invalid ${field}: ${reason}`);
    this.name = "InvalidInputError";
  }
}

/** A commit given as a ref (or an abbreviation) to a source that can only read by full commit id. */
export class UnresolvableRefError extends TraceInputError {
  constructor(
    readonly ref: string,
    readonly source: string,
  ) {
    super(`"${printable(ref)}" is not a commit id, and ${source} cannot resolve refs; give 7 to 40 hex digits`);
    this.name = "UnresolvableRefError";
  }
}

/** The first `code` string along an error's cause chain. */
export function causeCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
