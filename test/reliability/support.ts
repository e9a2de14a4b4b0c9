/**
 * Shared checks for the reliability suite, reading registries with plain fetch (never the client under test):
 * every tag of every repository resolves to a manifest whose whole graph (child manifests, config, layers) is
 * present. And a way to run domain code in a child process that can be killed: the TypeScript sources an entry
 * needs are transpiled once (no type-check) into a temporary folder and run with plain `node`.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import type { Exchange } from "../harness/faultProxy";
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, blobExists, digestOf } from "../harness/images";

export const ROOT = resolve(__dirname, "..", "..");

const ACCEPT = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(", ");

export interface TagState {
  repository: string;
  tag: string;
  digest: string;
}

export interface Audit {
  tags: TagState[];
  /** Each a sentence naming the tag and what it points at that is missing. */
  problems: string[];
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`GET ${url}: ${res.status}`);
  }
  return res.json();
}

export async function listRepositories(host: string): Promise<string[]> {
  const out: string[] = [];
  let last = "";
  for (;;) {
    const query = `n=1000${last ? `&last=${encodeURIComponent(last)}` : ""}`;
    const body = (await getJson(`http://${host}/v2/_catalog?${query}`)) as { repositories?: string[] };
    const page = body.repositories ?? [];
    out.push(...page);
    if (page.length < 1000) return out;
    last = page.at(-1)!;
  }
}

export async function listTags(host: string, repository: string): Promise<string[]> {
  const res = await fetch(`http://${host}/v2/${repository}/tags/list?n=1000`);
  if (res.status === 404) {
    await res.body?.cancel();
    return [];
  }
  const body = (await res.json()) as { tags?: string[] | null };
  return body.tags ?? [];
}

/** What a manifest needs that the repository does not have; empty when its whole graph is there. */
export async function missingContent(host: string, repository: string, reference: string): Promise<string[]> {
  const res = await fetch(`http://${host}/v2/${repository}/manifests/${reference}`, { headers: { Accept: ACCEPT } });
  if (res.status !== 200) {
    await res.body?.cancel();
    return [`manifest ${reference} (${res.status})`];
  }
  const bytes = Buffer.from(await res.arrayBuffer());
  if (reference.startsWith("sha256:") && digestOf(bytes) !== reference) return [`manifest ${reference} (wrong bytes)`];
  const body = JSON.parse(bytes.toString("utf8")) as {
    manifests?: Array<{ digest: string }>;
    config?: { digest: string };
    layers?: Array<{ digest: string }>;
  };
  const missing: string[] = [];
  for (const child of body.manifests ?? []) missing.push(...(await missingContent(host, repository, child.digest)));
  for (const blob of [...(body.config ? [body.config] : []), ...(body.layers ?? [])]) {
    if (!(await blobExists(host, repository, blob.digest))) missing.push(`blob ${blob.digest}`);
  }
  return missing;
}

/** Every tag in the registry, and every tag that points at something incomplete. */
export async function auditRegistry(
  host: string,
  repositoryFilter: (repo: string) => boolean = () => true,
): Promise<Audit> {
  const tags: TagState[] = [];
  const problems: string[] = [];
  for (const repository of (await listRepositories(host)).filter(repositoryFilter)) {
    for (const tag of await listTags(host, repository)) {
      const res = await fetch(`http://${host}/v2/${repository}/manifests/${tag}`, { headers: { Accept: ACCEPT } });
      const bytes = Buffer.from(await res.arrayBuffer());
      if (res.status !== 200) {
        problems.push(`${repository}:${tag} is listed but its manifest answers ${res.status}`);
        continue;
      }
      const digest = digestOf(bytes);
      tags.push({ repository, tag, digest });
      const missing = await missingContent(host, repository, digest);
      if (missing.length) problems.push(`${repository}:${tag} → ${digest} is missing ${missing.join(", ")}`);
    }
  }
  return { tags, problems };
}

/**
 * Transpiles `entry` and every project file it imports (relative imports only; npm packages resolve from the
 * project's node_modules through NODE_PATH) into a temporary folder; returns the .js path to run and the env.
 */
export function transpileForChild(entry: string): { script: string; env: NodeJS.ProcessEnv; dir: string } {
  const out = mkdtempSync(join(tmpdir(), "ais-child-"));
  const done = new Set<string>();
  const visit = (file: string) => {
    if (done.has(file)) return;
    done.add(file);
    const source = readFileSync(file, "utf8");
    const js = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        sourceMap: false,
      },
    }).outputText;
    const target = join(out, relative(ROOT, file)).replace(/\.ts$/, ".js");
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, js);
    for (const imported of ts.preProcessFile(source, true, false).importedFiles) {
      if (!imported.fileName.startsWith(".")) continue;
      const base = resolve(dirname(file), imported.fileName);
      const candidates = [`${base}.ts`, join(base, "index.ts"), base];
      const found = candidates.find((c) => {
        try {
          return c.endsWith(".ts") && readFileSync(c) !== undefined;
        } catch {
          return false;
        }
      });
      if (found) visit(found);
    }
  };
  visit(resolve(entry));
  const script = join(out, relative(ROOT, resolve(entry))).replace(/\.ts$/, ".js");
  return { script, dir: out, env: { ...process.env, NODE_PATH: join(ROOT, "node_modules") } };
}

/**
 * Writes the registry completed, per resource, from a fault proxy's log: a blob (uploaded or mounted) per
 * repository, a manifest per repository and reference (digest or tag). A count above 1 is work done twice.
 */
export function completedWrites(exchanges: readonly Exchange[]): Map<string, number> {
  const out = new Map<string, number>();
  const add = (k: string) => out.set(k, (out.get(k) ?? 0) + 1);
  for (const e of exchanges) {
    const url = new URL(e.path, "http://x");
    const repo = /^\/v2\/(.+?)\/(?:manifests|blobs)\//.exec(url.pathname)?.[1];
    if (!repo || e.upstreamStatus < 200 || e.upstreamStatus >= 300) continue;
    const digest = url.searchParams.get("digest");
    const mount = url.searchParams.get("mount");
    if (e.method === "PUT" && digest) add(`blob ${repo}@${digest}`);
    else if (e.method === "POST" && e.upstreamStatus === 201 && mount) add(`blob ${repo}@${mount}`);
    else if (e.method === "PUT" && url.pathname.includes("/manifests/"))
      add(`manifest ${repo}:${decodeURIComponent(url.pathname.split("/manifests/")[1] ?? "")}`);
  }
  return out;
}

/** Resources written more than once. */
export function repeatedWrites(writes: ReadonlyMap<string, number>): string[] {
  return [...writes].filter(([, n]) => n > 1).map(([k]) => k);
}

/** Deterministic bytes for a layer, so image digests (and with them the fault schedule) repeat run after run. */
export function seededLayer(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  for (let offset = 0, block = 0; offset < size; offset += 32, block++) {
    createHash("sha256").update(`${seed}:${block}`).digest().copy(out, offset);
  }
  return out;
}

export { startTogether } from "../harness/together";

/** Writes a figures file when RELIABILITY_OUT names a folder (docs/reliability.md is filled from these). */
export function reportFigures(name: string, figures: unknown): void {
  const line = JSON.stringify(figures);
  console.log(`[reliability] ${name}: ${line}`);
  const dir = process.env.RELIABILITY_OUT;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(figures, null, 2) + "\n");
}
