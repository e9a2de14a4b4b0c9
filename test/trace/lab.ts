/**
 * A trace lab: the fixture commits of Azure/ARO-HCP committed into a temporary git repository, and every image they
 * pin served by real local registries with labels that name a source commit.
 *
 * Fixture digests are real, and no local image can have a real image's digest, so each fixture's config is committed
 * with every pinned digest replaced by the digest of a local stand-in image (the YAML is otherwise byte for byte the
 * fixture). Registry hosts stay as the fixtures write them (`quay.io`, `arohcpsvcdev.azurecr.io`); the tracer's
 * registry map sends them to the local registries:
 *   quay.io                  → a token-auth registry (credentials required, like the private quay repositories)
 *   arohcpsvcdev.azurecr.io  → an htpasswd registry
 *   every other host         → an open registry
 *
 * Labels of a stand-in: the source commit is the fixture's inline updater comment when that is a commit
 * (`# 8289751 (2025-12-04 12:50)`), else a made-up commit derived from the real digest. It is written as `vcs-ref`
 * (plus `vcs-url` for ARO-HCP's own images), except: hypershift images carry only `org.opencontainers.image.revision`
 * (as Konflux builds do), mdsd images carry no labels at all, and maestro images are multi-arch indexes (an attestation,
 * linux/arm64 with a wrong commit, then linux/amd64). Every config also carries the real digest as a label so no two
 * stand-ins share a digest. No vitest import: the benchmark uses this file too.
 */
import { createHash, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { CredentialResolver } from "../../shared/registry/auth";
import { buildImage, buildIndex, pushBlob, pushImage, pushIndex, type SeedAuth } from "../harness/images";
import { type RunningRegistry, startRegistry } from "../harness/registry";
import { startTokenServer, type TokenServer } from "../harness/tokenServer";

export interface LabFixture {
  /** Directory holding `config/` and `expected-images.json`. */
  dir: string;
  /** The real upstream commit (for lookups); the lab commits the files under a new id. */
  commit: string;
}

export interface LabOptions {
  /** Committed in this order, one commit each. */
  fixtures: readonly LabFixture[];
  /** Real digests whose stand-ins are not pushed: components the registry does not have. */
  omit?: readonly string[];
}

export interface LabImage {
  realDigest: string;
  localDigest: string;
  /** The source commit its labels name; null for an image without labels. */
  commit: string | null;
  labelKey: "vcs-ref" | "org.opencontainers.image.revision" | null;
  /** Whether it was pushed as a multi-arch index. */
  index: boolean;
  /** `registry/repository` as the configs name them. */
  locations: string[];
  pushed: boolean;
}

export interface Lab {
  repo: string;
  /** Real fixture commit → the lab repository's commit with the same (rewritten) files. */
  commitOf: ReadonlyMap<string, string>;
  registryMap: Record<string, string>;
  credentials: CredentialResolver;
  /** By real digest. */
  images: ReadonlyMap<string, LabImage>;
  hosts: { open: string; basic: string; token: string };
  stop(): Promise<void>;
}

export const LAB_USER = { username: "tracer", password: randomBytes(12).toString("hex") };
const CONFIG_FILES = ["config.yaml", "config.msft.clouds-overlay.yaml", "config.schema.json"];
const COMMIT_LIKE = /^[0-9a-f]{7,40}$/;

interface OracleEntry {
  form: string;
  registry?: string;
  repository?: string;
  resolvedDigest?: string;
}

/** `registry` may carry a path (`mcr.microsoft.com/oss/v2`): the host is the first segment, as the extractor does. */
function location(entry: OracleEntry): { host: string; repository: string } | undefined {
  if (!entry.registry || !entry.repository || !entry.resolvedDigest || entry.form === "string") return undefined;
  if (entry.registry === "empty-sentinel") return undefined;
  const [host = "", ...rest] = entry.registry.split("/");
  return { host, repository: [...rest, entry.repository].join("/") };
}

/** The updater's inline comment per digest hex: `digest: sha256:<hex> # <version> (<date>)`. */
function comments(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const pattern = /(?:digest|sha):\s*["']?(?:sha256:)?([0-9a-fA-F]{64})["']?\s*#\s*(\S+)/g;
  for (const m of text.matchAll(pattern)) out.set((m[1] ?? "").toLowerCase(), m[2] ?? "");
  return out;
}

function labelsFor(host: string, repository: string, realDigest: string, comment: string | undefined) {
  const commit =
    comment && COMMIT_LIKE.test(comment) ? comment : createHash("sha1").update(`source of ${realDigest}`).digest("hex");
  const labels: Record<string, string> = { "test.real-digest": realDigest };
  if (comment && !COMMIT_LIKE.test(comment)) labels["org.opencontainers.image.version"] = comment;
  if (repository.includes("mdsd")) return { labels, commit: null, labelKey: null };
  if (repository.includes("hypershift")) {
    labels["org.opencontainers.image.revision"] = commit;
    return { labels, commit, labelKey: "org.opencontainers.image.revision" as const };
  }
  labels["vcs-ref"] = commit;
  if (host === "arohcpsvcdev.azurecr.io" && repository.startsWith("arohcp")) {
    labels["vcs-url"] = "https://github.com/Azure/ARO-HCP.git";
  }
  return { labels, commit, labelKey: "vcs-ref" as const };
}

async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export async function startLab(options: LabOptions): Promise<Lab> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    return await build(options, stops, stop);
  } catch (err) {
    await stop();
    throw err;
  }
}

async function build(options: LabOptions, stops: Array<() => Promise<void>>, stop: () => Promise<void>): Promise<Lab> {
  // Which images the fixtures pin, where, and what the updater's comments say about them (read from every fixture
  // first: a digest's comment may sit in a later fixture than its first use).
  const texts = new Map<string, Map<string, string>>();
  const noted = new Map<string, string>();
  for (const fixture of options.fixtures) {
    const files = new Map(CONFIG_FILES.map((f) => [f, readFileSync(path.join(fixture.dir, "config", f), "utf8")]));
    texts.set(fixture.commit, files);
    for (const text of files.values()) {
      for (const [hex, comment] of comments(text)) if (!noted.has(hex)) noted.set(hex, comment);
    }
  }
  const images = new Map<string, LabImage & { labels: Record<string, string> }>();
  for (const fixture of options.fixtures) {
    const oracle = JSON.parse(readFileSync(path.join(fixture.dir, "expected-images.json"), "utf8")) as {
      environments: Record<string, Record<string, OracleEntry>>;
    };
    for (const entries of Object.values(oracle.environments)) {
      for (const entry of Object.values(entries)) {
        const at = location(entry);
        if (!at || !entry.resolvedDigest) continue;
        const real = entry.resolvedDigest.toLowerCase();
        const where = `${at.host}/${at.repository}`;
        const existing = images.get(real);
        if (existing) {
          if (!existing.locations.includes(where)) existing.locations.push(where);
          continue;
        }
        images.set(real, {
          realDigest: real,
          localDigest: "",
          index: at.repository.endsWith("maestro/maestro"),
          locations: [where],
          pushed: !(options.omit ?? []).includes(real),
          ...labelsFor(at.host, at.repository, real, noted.get(real.slice(7))),
        });
      }
    }
  }

  // Registries.
  const tokenServer: TokenServer = await startTokenServer({ users: { [LAB_USER.username]: LAB_USER.password } });
  stops.push(() => tokenServer.stop());
  const open: RunningRegistry = await startRegistry();
  stops.push(() => open.stop());
  const basic = await startRegistry({ htpasswd: { [LAB_USER.username]: LAB_USER.password } });
  stops.push(() => basic.stop());
  const token = await startRegistry({ token: tokenServer.auth });
  stops.push(() => token.stop());
  const hostFor = (configHost: string) =>
    configHost === "quay.io" ? token.host : configHost === "arohcpsvcdev.azurecr.io" ? basic.host : open.host;
  const basicAuth = `Basic ${Buffer.from(`${LAB_USER.username}:${LAB_USER.password}`).toString("base64")}`;
  const seedAuth = (configHost: string): SeedAuth | undefined =>
    configHost === "quay.io"
      ? (repo) => `Bearer ${tokenServer.mint([`repository:${repo}:pull,push`])}`
      : configHost === "arohcpsvcdev.azurecr.io"
        ? () => basicAuth
        : undefined;

  // Stand-in images, pushed to every location a config names them at.
  const layer = Buffer.from("one shared layer: labels live in the config blob\n");
  // The shared layer goes to each repository once before the images do: distribution rewrites a blob's link in place
  // when two uploads of it to one repository finish together, and a manifest PUT in that window is refused with
  // MANIFEST_BLOB_UNKNOWN (seen under load).
  const repositories = new Set<string>();
  for (const image of images.values()) if (image.pushed) for (const where of image.locations) repositories.add(where);
  for (const where of repositories) {
    const configHost = where.slice(0, where.indexOf("/"));
    const repository = where.slice(where.indexOf("/") + 1);
    await pushBlob(hostFor(configHost), repository, layer, seedAuth(configHost));
  }
  await pool([...images.values()], 4, async (image) => {
    const amd64 = buildImage({ layers: [layer], labels: image.labels, created: "2025-12-01T00:00:00Z" });
    let manifestDigest = amd64.digest;
    let index: ReturnType<typeof buildIndex> | undefined;
    if (image.index) {
      const attestation = buildImage({ layers: [layer], platform: { os: "unknown", architecture: "unknown" } });
      const arm64 = buildImage({
        layers: [layer],
        labels: { ...image.labels, "vcs-ref": "arm64-child-must-not-be-read" },
        platform: { os: "linux", architecture: "arm64" },
      });
      index = buildIndex([attestation, arm64, amd64]);
      manifestDigest = index.digest;
    }
    image.localDigest = manifestDigest;
    if (!image.pushed) return;
    for (const where of image.locations) {
      const configHost = where.slice(0, where.indexOf("/"));
      const repository = where.slice(where.indexOf("/") + 1);
      const auth = seedAuth(configHost);
      if (index) await pushIndex(hostFor(configHost), repository, index, undefined, auth);
      else await pushImage(hostFor(configHost), repository, amd64, undefined, auth);
    }
  });

  // The repository: one commit per fixture, with the stand-ins' digests in place of the real ones.
  const repo = mkdtempSync(path.join(tmpdir(), "trace-lab-"));
  stops.push(async () => rmSync(repo, { recursive: true, force: true }));
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=Trace Lab", "-c", "user.email=lab@example.invalid", ...args], {
      cwd: repo,
      encoding: "utf8",
    }).trim();
  git("init", "--quiet", "--initial-branch=main");
  const localHex = new Map([...images.values()].map((i) => [i.realDigest.slice(7), i.localDigest.slice(7)]));
  const commitOf = new Map<string, string>();
  mkdirSync(path.join(repo, "config"), { recursive: true });
  for (const fixture of options.fixtures) {
    for (const [file, text] of texts.get(fixture.commit) ?? []) {
      const rewritten = text.replace(/[0-9a-fA-F]{64}/g, (hex) => localHex.get(hex.toLowerCase()) ?? hex);
      writeFileSync(path.join(repo, "config", file), rewritten);
    }
    git("add", "config");
    git("commit", "--quiet", "--allow-empty", "-m", `fixture ${fixture.commit}`);
    commitOf.set(fixture.commit, git("rev-parse", "HEAD"));
  }

  const registryMap: Record<string, string> = {};
  for (const image of images.values()) {
    for (const where of image.locations) {
      const configHost = where.slice(0, where.indexOf("/"));
      registryMap[configHost] = hostFor(configHost);
    }
  }
  const credentials: CredentialResolver = async (registry) =>
    registry === basic.host || registry === token.host ? { kind: "basic", ...LAB_USER } : undefined;

  return {
    repo,
    commitOf,
    registryMap,
    credentials,
    images: new Map([...images].map(([k, v]) => [k, v])),
    hosts: { open: open.host, basic: basic.host, token: token.host },
    stop,
  };
}
