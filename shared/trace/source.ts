import { execFile } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { RetryableError } from "../registry/retry";
import { fileGet } from "../registry/fileGet";
import { RegistryError, Transport } from "../registry/transport";
import { causeCode, CommitNotFoundError, ConfigSourceError, InvalidInputError, TraceInputError } from "./errors";
import { validateCommit, validateCommitOrRef, validateRepoPath } from "./paths";

/** Where a service's config files come from. Implementations validate commit and path before using either. */
export interface ConfigSource {
  /** Secret-free description for messages and responses. */
  readonly name: string;
  /** The file's text at the commit, or null when the file does not exist there. Other failures throw. */
  readFile(commit: string, path: string): Promise<string | null>;
  /**
   * The full commit id for an abbreviated commit or a ref (branch, tag). Absent when the source can only read by the
   * commit id it is given (a URL template); the tracer then accepts commit ids only.
   */
  resolveCommit?(ref: string): Promise<string>;
  /**
   * True when the files at a full commit id can never change (a git object store, a URL by commit), so a trace of
   * that commit may be cached. A working directory is not: it ignores the commit.
   */
  readonly immutable?: boolean;
}

// Config files are a few hundred KB (ARO-HCP's largest, its schema, is 115 KB); a cap stops a wrong path, a hostile
// commit or URL from exhausting memory, and bounds what the YAML parser and the schema walk do per request.
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
const DEFAULT_MAX_BYTES = MAX_CONFIG_FILE_BYTES;
const DEFAULT_TIMEOUT_MS = 30_000;

const execFileAsync = promisify(execFile);

export interface GitSourceOptions {
  /** The git executable; defaults to `git` on PATH. */
  git?: string;
  timeoutMs?: number;
  maxBytes?: number;
  /**
   * Refs (e.g. `main`) a traced commit must be reachable from (TRACE_REQUIRED_REFS): a commit pushed to some other
   * branch of the clone is refused. Empty: any commit the clone has.
   */
  requiredRefs?: readonly string[];
}

/** The commit exists but is not on any of the refs the operator requires. */
export class CommitNotReachableError extends TraceInputError {
  constructor(
    readonly commit: string,
    readonly refs: readonly string[],
  ) {
    super(`commit ${commit} is not reachable from ${refs.join(" or ")}`);
    this.name = "CommitNotReachableError";
  }
}

/** A local clone. Reads blobs straight from the object store, so the working tree's state does not matter. */
export class GitConfigSource implements ConfigSource {
  readonly name: string;
  readonly immutable = true;

  constructor(
    private readonly repoDir: string,
    private readonly options: GitSourceOptions = {},
  ) {
    // The clone's folder name, never its path on this server: names end up in responses.
    this.name = `git repository ${basename(resolve(repoDir))}`;
  }

  private readonly reachable = new Map<string, Promise<void>>();

  /** Refuses a commit that is not on a required ref; once per commit. */
  private assertReachable(sha: string): Promise<void> {
    const refs = this.options.requiredRefs ?? [];
    if (refs.length === 0) return Promise.resolve();
    let check = this.reachable.get(sha);
    if (!check) {
      check = (async () => {
        for (const ref of refs) {
          if (await this.succeeds(["merge-base", "--is-ancestor", sha, `refs/heads/${ref}`])) return;
          if (await this.succeeds(["merge-base", "--is-ancestor", sha, `refs/remotes/origin/${ref}`])) return;
        }
        throw new CommitNotReachableError(sha, refs);
      })();
      check.catch(() => this.reachable.delete(sha));
      this.reachable.set(sha, check);
    }
    return check;
  }

  async readFile(commit: string, path: string): Promise<string | null> {
    const sha = validateCommit(commit);
    const file = validateRepoPath(path);
    if (/^[0-9a-f]{40}$/.test(sha)) await this.assertReachable(sha);
    // `cat-file blob` rather than `show`: identical output for a file, but a directory is an error instead of a
    // tree listing that would be parsed as YAML.
    try {
      return await this.git(["cat-file", "blob", `${sha}:${file}`]);
    } catch (err) {
      // Only on failure do we ask why, so the common path costs one process. An unusable repository (missing,
      // "dubious ownership") must not be reported as an unknown commit.
      if (!(await this.succeeds(["rev-parse", "--git-dir"]))) {
        throw new ConfigSourceError(`${this.name} is not a usable git repository: ${gitMessage(err)}`, { cause: err });
      }
      if (!(await this.succeeds(["rev-parse", "--verify", "--quiet", `${sha}^{commit}`]))) {
        throw new CommitNotFoundError(sha, this.name);
      }
      if (!(await this.succeeds(["cat-file", "-e", `${sha}:${file}`]))) return null;
      throw new ConfigSourceError(`cannot read ${file} at ${sha} from ${this.name}: ${gitMessage(err)}`, {
        cause: err,
      });
    }
  }

  async resolveCommit(ref: string): Promise<string> {
    const valid = validateCommitOrRef(ref);
    // `--end-of-options` as well as the grammar: a ref can never be read as an option.
    const args = ["rev-parse", "--verify", "--quiet", "--end-of-options", `${valid}^{commit}`];
    try {
      const sha = (await this.git(args)).trim();
      if (/^[0-9a-f]{40}$/.test(sha)) {
        await this.assertReachable(sha);
        return sha;
      }
      throw new ConfigSourceError(`${this.name} resolved ${valid} to something that is not a commit id`);
    } catch (err) {
      if (err instanceof ConfigSourceError || err instanceof CommitNotReachableError) throw err;
      if (!(await this.succeeds(["rev-parse", "--git-dir"]))) {
        throw new ConfigSourceError(`${this.name} is not a usable git repository: ${gitMessage(err)}`, { cause: err });
      }
      throw new CommitNotFoundError(valid, this.name);
    }
  }

  private async git(args: string[]): Promise<string> {
    const { stdout } = await execFileAsync(this.options.git ?? "git", args, {
      cwd: this.repoDir,
      encoding: "utf8",
      maxBuffer: this.options.maxBytes ?? DEFAULT_MAX_BYTES,
      timeout: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      // Stable English messages, and never a credential prompt that would hang a function host.
      env: { ...process.env, LC_ALL: "C", GIT_TERMINAL_PROMPT: "0" },
      windowsHide: true,
    });
    return stdout;
  }

  private async succeeds(args: string[]): Promise<boolean> {
    try {
      await this.git(args);
      return true;
    } catch {
      return false;
    }
  }
}

/** A checked-out tree. It has no history, so the commit is ignored: useful for local edits and for tests. */
export class DirectoryConfigSource implements ConfigSource {
  readonly name: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.name = `directory ${basename(this.root)}`;
  }

  async readFile(_commit: string, path: string): Promise<string | null> {
    const full = join(this.root, validateRepoPath(path));
    const inside = relative(this.root, full);
    if (inside.startsWith("..") || isAbsolute(inside))
      throw new ConfigSourceError(`${path} resolves outside ${this.name}`);
    try {
      const size = (await stat(full)).size;
      if (size > MAX_CONFIG_FILE_BYTES)
        throw new ConfigSourceError(`${path} is larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
      return await readFile(full, "utf8");
    } catch (err) {
      if (err instanceof ConfigSourceError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return null;
      throw new ConfigSourceError(`cannot read ${path} from ${this.name}: ${code ?? String(err)}`, { cause: err });
    }
  }
}

export interface HttpSourceOptions {
  /**
   * The registry client's transport, so config reads share its retry policy, per-host cap and request counter (one
   * HTTP path in the app). Default: a transport of its own.
   */
  transport?: Transport;
  /**
   * Sent with every request (e.g. a token for a private repository); never echoed in messages. Redirects are not
   * followed when headers are set, because the transport would carry them to whichever host the redirect names.
   */
  headers?: Record<string, string>;
  timeoutMs?: number;
  maxBytes?: number;
}

/**
 * Files served by URL, e.g. `https://raw.githubusercontent.com/Azure/ARO-HCP/{commit}/{path}`. A 404 means the file
 * is not there at that commit.
 */
export class HttpConfigSource implements ConfigSource {
  readonly name: string;
  readonly immutable = true;
  private readonly transport: Transport;

  constructor(
    private readonly urlTemplate: string,
    private readonly options: HttpSourceOptions = {},
  ) {
    if (!urlTemplate.includes("{commit}") || !urlTemplate.includes("{path}")) {
      throw new ConfigSourceError("an HTTP config source URL template needs both {commit} and {path}");
    }
    const probe = new URL(urlTemplate.replaceAll("{commit}", "0000000").replaceAll("{path}", "x"));
    if (probe.protocol !== "https:" && probe.protocol !== "http:") {
      throw new ConfigSourceError(`unsupported URL scheme ${probe.protocol} for an HTTP config source`);
    }
    // Query strings and user info may carry tokens: describe the source by origin and the template's path only.
    const pathTemplate = urlTemplate.slice(urlTemplate.indexOf(probe.host) + probe.host.length).split(/[?#]/)[0] ?? "";
    this.name = `${probe.origin}${pathTemplate}`;
    this.transport = options.transport ?? new Transport();
  }

  async readFile(commit: string, path: string): Promise<string | null> {
    const sha = validateCommit(commit);
    const file = validateRepoPath(path);
    const encodedPath = file.split("/").map(encodeURIComponent).join("/");
    const url = new URL(this.urlTemplate.replaceAll("{commit}", sha).replaceAll("{path}", encodedPath));
    const what = `${file} at ${sha} from ${this.name}`;
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // The transport has no deadline of its own; this bounds the whole read (retries and body included).
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ConfigSourceError(`timed out after ${timeoutMs} ms reading ${what}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.fetchText(url, what), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async fetchText(url: URL, what: string): Promise<string | null> {
    const headers = this.options.headers ?? {};
    const maxBytes = this.options.maxBytes ?? DEFAULT_MAX_BYTES;
    try {
      return await fileGet(this.transport, url, {
        headers,
        maxBytes,
        followRedirects: Object.keys(headers).length === 0,
      });
    } catch (err) {
      if (err instanceof RegistryError && err.status === 413)
        throw new ConfigSourceError(`${what} is larger than ${maxBytes} bytes`);
      if (err instanceof RegistryError || (err instanceof RetryableError && err.status !== undefined)) {
        throw new ConfigSourceError(`HTTP ${(err as { status: number }).status} fetching ${what}`, { cause: err });
      }
      throw new ConfigSourceError(`cannot fetch ${what}: ${errorText(err)}`, { cause: err });
    }
  }
}

function gitMessage(err: unknown): string {
  const stderr = (err as { stderr?: unknown }).stderr;
  if (typeof stderr === "string" && stderr.trim()) return stderr.trim().split("\n")[0] ?? "";
  return errorText(err);
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // "fetch failed" alone helps nobody; the socket's code (ECONNREFUSED, ENOTFOUND) sits somewhere down the causes.
  const code = causeCode(err);
  return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
}

/**
 * A config source from one string, as the TRACE_CONFIG_SOURCE setting and the CLI's --repo give it:
 * - a URL template with `{commit}` and `{path}`;
 * - a GitHub or GitLab repository URL, read file by file through its raw endpoint at the commit;
 * - a local directory: a git clone (refs allowed, traces cacheable), else a plain tree whose files are read as they
 *   are whatever the commit (never cached).
 * URL sources go through `transport`, the registry client's, so every HTTP request shares one path.
 */
export function openConfigSource(
  spec: string,
  options: { transport?: Transport; requiredRefs?: readonly string[] } = {},
): ConfigSource {
  const http = options.transport ? { transport: options.transport } : {};
  if (/^https?:\/\//i.test(spec)) {
    if (spec.includes("{commit}") && spec.includes("{path}")) return new HttpConfigSource(spec, http);
    const url = new URL(spec);
    const path = url.pathname.replace(/\/+$/, "").replace(/\.git$/, "");
    if (!/^(\/[A-Za-z0-9._-]+){2,}$/.test(path) || url.search || url.username || url.password) {
      throw new InvalidInputError("config source", `${url.origin}${url.pathname} is not a repository URL`);
    }
    if (url.hostname === "github.com") {
      return new HttpConfigSource(`https://raw.githubusercontent.com${path}/{commit}/{path}`, http);
    }
    if (url.hostname.startsWith("gitlab.") || url.hostname.includes(".gitlab.")) {
      return new HttpConfigSource(`${url.origin}${path}/-/raw/{commit}/{path}`, http);
    }
    throw new InvalidInputError(
      "config source",
      `${url.origin}${path}: give a URL template with {commit} and {path} for this host`,
    );
  }
  const dir = resolve(spec);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new InvalidInputError("config source", `${spec} is not a directory`);
  }
  if (existsSync(join(dir, ".git")) || existsSync(join(dir, "HEAD")))
    return new GitConfigSource(dir, options.requiredRefs ? { requiredRefs: options.requiredRefs } : {});
  // A plain tree and a URL template have no history to check a commit against (docs/security.md).
  return new DirectoryConfigSource(dir);
}
