/**
 * A small config lab: one fixture's config files committed into a temporary git repository, with every made-up or
 * real digest they name replaced by the digest of a local stand-in image pushed to one local registry (under every
 * repository the configs name for it). Tag-only entries can be given a tagged stand-in too. Every config host is
 * mapped to the local registry through the tracer's registry map. No vitest import: benchmarks may use it.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { builtInServiceDefinition } from "../../shared/trace/definition";
import { extractImages } from "../../shared/trace/images";
import { loadMergedConfig, resolveContext } from "../../shared/trace/service";
import { DirectoryConfigSource } from "../../shared/trace/source";
import { buildImage, pushImage } from "../harness/images";
import { type RunningRegistry, startRegistry } from "../harness/registry";

export interface ConfigLabOptions {
  /** Directory holding `config/`. */
  fixtureDir: string;
  /** Real (or made-up) digests whose stand-ins carry no labels at all. */
  noLabels?: readonly string[];
  /** Real digests whose stand-ins are not pushed. */
  omit?: readonly string[];
  /** Push a stand-in under this tag for every tag-only entry. */
  pushTags?: boolean;
  /** Reuse a registry instead of starting one (the lab then does not stop it). */
  registry?: RunningRegistry;
}

export interface ConfigLabImage {
  /** The digest the fixture names (`sha256:` added to bare hex). */
  realDigest: string;
  localDigest: string;
  /** The vcs-ref label, or null for a stand-in without labels. */
  commit: string | null;
  /** `registry/repository` as the configs name them. */
  locations: string[];
  pushed: boolean;
  /** Layer and config bytes, for byte counts. */
  bytes: number;
}

export interface ConfigLab {
  repo: string;
  commit: string;
  registry: RunningRegistry;
  registryMap: Record<string, string>;
  /** By real digest. */
  images: ReadonlyMap<string, ConfigLabImage>;
  /** `registry/repository:tag` → the stand-in digest pushed under that tag. */
  tags: ReadonlyMap<string, string>;
  stop(): Promise<void>;
}

const HEX = /\b(sha256:)?([a-f0-9]{64})\b/g;

/** Every cloud/environment of the fixture, extracted with the built-in ARO-HCP definition. */
async function everyEntry(fixtureDir: string) {
  const definition = await builtInServiceDefinition("aro-hcp");
  const merged = await loadMergedConfig(new DirectoryConfigSource(fixtureDir), definition, "0000000");
  return merged.contexts.flatMap((c) => {
    const loaded = resolveContext(merged, { cloud: c.cloud, environment: c.environment });
    return extractImages(loaded.config, { schema: loaded.schema });
  });
}

export async function startConfigLab(options: ConfigLabOptions): Promise<ConfigLab> {
  const registry = options.registry ?? (await startRegistry());
  const ownRegistry = options.registry === undefined;
  const dir = mkdtempSync(path.join(tmpdir(), "config-lab-"));
  try {
    const entries = await everyEntry(options.fixtureDir);
    const registryMap: Record<string, string> = {};
    const images = new Map<string, ConfigLabImage>();
    const tags = new Map<string, string>();
    const noLabels = new Set(options.noLabels ?? []);
    const omit = new Set(options.omit ?? []);
    for (const e of entries) {
      if (!e.registry || !e.repository) continue;
      registryMap[e.registry] = registry.host;
      if (e.status === "pinned" && e.digest) {
        const image = images.get(e.digest) ?? {
          realDigest: e.digest,
          localDigest: "",
          commit: noLabels.has(e.digest) ? null : createHash("sha1").update(e.digest).digest("hex").slice(0, 7),
          locations: [],
          pushed: false,
          bytes: 0,
        };
        const where = `${e.registry}/${e.repository}`;
        if (!image.locations.includes(where)) image.locations.push(where);
        images.set(e.digest, image);
      }
    }
    for (const image of images.values()) {
      const built = buildImage({
        labels: image.commit ? { "vcs-ref": image.commit, "fixture-digest": image.realDigest } : {},
        layers: [Buffer.from(`layer of ${image.realDigest}`)],
      });
      image.localDigest = built.digest;
      image.bytes = built.config.length + built.layers.reduce((n, l) => n + l.length, 0);
      if (omit.has(image.realDigest)) continue;
      for (const where of image.locations) {
        await pushImage(registry.host, where.slice(where.indexOf("/") + 1), built);
      }
      image.pushed = true;
    }
    if (options.pushTags) {
      for (const e of entries) {
        if (e.status !== "tag-only" || !e.registry || !e.repository || !e.tag) continue;
        const key = `${e.registry}/${e.repository}:${e.tag}`;
        if (tags.has(key)) continue;
        const built = buildImage({ labels: { "vcs-ref": "7a9e0b1" }, layers: [Buffer.from(`tag ${key}`)] });
        await pushImage(registry.host, e.repository, built, e.tag);
        tags.set(key, built.digest);
      }
    }

    // The same files with every digest replaced by its stand-in's (bare hex stays bare), committed once.
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=Config Lab", "-c", "user.email=lab@example.invalid", ...args], {
        cwd: dir,
        encoding: "utf8",
      }).trim();
    git("init", "--quiet", "--initial-branch=main");
    mkdirSync(path.join(dir, "config"));
    for (const file of readdirSync(path.join(options.fixtureDir, "config"))) {
      const text = readFileSync(path.join(options.fixtureDir, "config", file), "utf8");
      const rewritten = file.endsWith(".yaml")
        ? text.replace(HEX, (whole, prefix: string | undefined, hex: string) => {
            const local = images.get(`sha256:${hex}`)?.localDigest;
            if (!local) return whole;
            return prefix ? local : local.slice("sha256:".length);
          })
        : text;
      writeFileSync(path.join(dir, "config", file), rewritten);
    }
    git("add", "config");
    git("commit", "--quiet", "-m", "fixture");
    const commit = git("rev-parse", "HEAD");
    return {
      repo: dir,
      commit,
      registry,
      registryMap,
      images,
      tags,
      async stop() {
        rmSync(dir, { recursive: true, force: true });
        if (ownRegistry) await registry.stop();
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    if (ownRegistry) await registry.stop();
    throw err;
  }
}
