import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { CommitNotFoundError, ConfigSourceError } from "./errors";
import { validateCommit, validateRepoPath } from "./paths";

/** Where a service's config files come from. Implementations validate commit and path before using either. */
export interface ConfigSource {
  /** Secret-free description for messages and responses. */
  readonly name: string;
  /** The file's text at the commit, or null when the file does not exist there. Other failures throw. */
  readFile(commit: string, path: string): Promise<string | null>;
}

// Config files are a few hundred KB; a cap stops a wrong path (or a hostile URL) from exhausting memory.
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;

const execFileAsync = promisify(execFile);

export interface GitSourceOptions {
  /** The git executable; defaults to `git` on PATH. */
  git?: string;
  timeoutMs?: number;
  maxBytes?: number;
}

/** A local clone. Reads blobs straight from the object store, so the working tree's state does not matter. */
export class GitConfigSource implements ConfigSource {
  readonly name: string;

  constructor(
    private readonly repoDir: string,
    private readonly options: GitSourceOptions = {},
  ) {
    this.name = `git repository ${repoDir}`;
  }

  async readFile(commit: string, path: string): Promise<string | null> {
    const sha = validateCommit(commit);
    const file = validateRepoPath(path);
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
    this.name = `directory ${this.root}`;
  }

  async readFile(_commit: string, path: string): Promise<string | null> {
    const full = join(this.root, validateRepoPath(path));
    const inside = relative(this.root, full);
    if (inside.startsWith("..") || isAbsolute(inside))
      throw new ConfigSourceError(`${path} resolves outside ${this.name}`);
    try {
      return await readFile(full, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return null;
      throw new ConfigSourceError(`cannot read ${path} from ${this.name}: ${code ?? String(err)}`, { cause: err });
    }
  }
}

export type FetchFunction = (input: string, init?: RequestInit) => Promise<Response>;

export interface HttpSourceOptions {
  /** Injected for tests; defaults to the global fetch. */
  fetch?: FetchFunction;
  /** Sent with every request (e.g. a token for a private repository); never echoed in messages. */
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
  }

  async readFile(commit: string, path: string): Promise<string | null> {
    const sha = validateCommit(commit);
    const file = validateRepoPath(path);
    const encodedPath = file.split("/").map(encodeURIComponent).join("/");
    const url = this.urlTemplate.replaceAll("{commit}", sha).replaceAll("{path}", encodedPath);
    const doFetch = this.options.fetch ?? fetch;
    let response: Response;
    try {
      response = await doFetch(url, {
        headers: this.options.headers ?? {},
        signal: AbortSignal.timeout(this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      });
    } catch (err) {
      throw new ConfigSourceError(`cannot fetch ${file} at ${sha} from ${this.name}: ${errorText(err)}`, {
        cause: err,
      });
    }
    if (response.status === 404) return null;
    if (!response.ok) {
      throw new ConfigSourceError(`HTTP ${response.status} fetching ${file} at ${sha} from ${this.name}`);
    }
    const maxBytes = this.options.maxBytes ?? DEFAULT_MAX_BYTES;
    if (Number(response.headers.get("content-length") ?? 0) > maxBytes) {
      throw new ConfigSourceError(`${file} at ${sha} from ${this.name} is larger than ${maxBytes} bytes`);
    }
    const text = await response.text();
    if (Buffer.byteLength(text) > maxBytes) {
      throw new ConfigSourceError(`${file} at ${sha} from ${this.name} is larger than ${maxBytes} bytes`);
    }
    return text;
  }
}

function gitMessage(err: unknown): string {
  const stderr = (err as { stderr?: unknown }).stderr;
  if (typeof stderr === "string" && stderr.trim()) return stderr.trim().split("\n")[0] ?? "";
  return errorText(err);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
