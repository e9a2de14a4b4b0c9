/**
 * `acr-image-sync init`: a commented starter sync config and a local.settings.json beside it, so a first `plan` works
 * from a blank folder. Never overwrites a file unless asked to.
 */
import { type Command, InvalidArgumentError } from "commander";
import { existsSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { isHost } from "../shared/sync/imageRef";
import { EXIT, type Output } from "./copyCommand";
import { LOCAL_SETTINGS_FILE } from "./localSettings";

export const STARTER_CONFIG = "sync.yaml";

/** The starter config: valid as written (a test loads it), with every rule a newcomer needs shown in comments. */
export function starterConfig(target: string): string {
  return `# acr-image-sync sync config: what to mirror, and where. Reference: docs/configuration.md
# Check it with \`acr-image-sync plan\` (nothing is written), then \`acr-image-sync sync\`.

# The registry images are copied into (your ACR, e.g. myacr.azurecr.io). An optional prefix puts every mirrored
# repository under one folder: prefix: mirror -> myacr.azurecr.io/mirror/library/alpine
target:
  registry: ${target}

defaults:
  platforms: all        # copy whole multi-arch indexes byte for byte; or a list such as [linux/amd64]
  pinTag: false         # true: also write <YYYYMMDD>_sha256_<hex> so an overwritten digest stays reachable

# Pull secrets per upstream registry (Docker config JSON). Locally, a dockerConfig path is read relative to this
# file, and keyVaultSecret names a file in LOCAL_SECRETS_DIR; on Azure, a secret in KEYVAULT_URI.
# credentials:
#   docker.io: { keyVaultSecret: dockerhub-pull }
#   ghcr.io: { dockerConfig: ./ghcr-config.json }

images:
  # The three newest 3.x releases, ordered as \`sort -V\` orders versions (3.9 < 3.10; v-prefixes allowed).
  - source: docker.io/library/alpine
    allow: "3\\\\.[0-9]+"
    newest: 3
    order: version

  # Other rules (one per entry, or a list of them under \`rules:\`):
  # - { source: ghcr.io/org/app, tags: [v1.2.3, stable] }               # exactly these tags
  # - { source: ghcr.io/org/app, semver: ">=1.25 <2", newest: 2 }        # a semver range, optionally the newest N
  # - { source: ghcr.io/org/worker, follow: main-latest }                # the immutable tag main-latest points at
  # - { source: ghcr.io/org/app, target: team/app, tags: [v1] }          # a target repository of your choosing
`;
}

export function starterSettings(configFile: string): string {
  return (
    JSON.stringify(
      {
        IsEncrypted: false,
        Values: {
          // The sync config above; paths are relative to the folder the CLI runs in.
          SYNC_CONFIG: configFile,
          // Empty: the CLI keeps its history in the local store (see `acr-image-sync --help`).
          TABLES_CONNECTION_STRING: "",
          // Local stand-in for Key Vault: one file per secret, named as keyVaultSecret names it.
          LOCAL_SECRETS_DIR: ".secrets",
          SYNC_IMAGES: "true",
        },
      },
      null,
      2,
    ) + "\n"
  );
}

function registry(value: string): string {
  if (!isHost(value))
    throw new InvalidArgumentError("must be a registry host such as myacr.azurecr.io or 127.0.0.1:5000");
  return value;
}

export function registerInitCommand(program: Command, out: Output, setExit: (code: number) => void): void {
  program
    .command("init")
    .description(`write a commented starter ${STARTER_CONFIG} and a ${LOCAL_SETTINGS_FILE} in this folder`)
    .option("--target <registry>", "the registry to mirror into", registry, "myacr.azurecr.io")
    .option("--force", "overwrite files that exist")
    .action((opts: { target: string; force?: boolean }) => {
      const files: Array<[string, string]> = [
        [STARTER_CONFIG, starterConfig(opts.target)],
        [LOCAL_SETTINGS_FILE, starterSettings(STARTER_CONFIG)],
      ];
      const existing = files.filter(([name]) => existsSync(resolve(name))).map(([name]) => name);
      if (existing.length && !opts.force) {
        out.stderr(
          `error: ${existing.join(" and ")} already exist${existing.length === 1 ? "s" : ""}; --force overwrites`,
        );
        setExit(EXIT.badInput);
        return;
      }
      for (const [name, text] of files) writeFileSync(resolve(name), text);
      out.stdout(
        `wrote ${files.map(([name]) => name).join(" and ")}; next: edit ${STARTER_CONFIG}, then acr-image-sync plan`,
      );
      setExit(EXIT.ok);
    });
}
