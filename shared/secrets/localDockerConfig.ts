import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { CredentialResolver } from "../registry/auth";
import { parseDockerConfig, resolverFrom } from "./dockerConfig";

/** The Docker CLI's own lookup: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; none is no credentials. */
export async function localDockerCredentials(env: NodeJS.ProcessEnv = process.env): Promise<CredentialResolver> {
  const file = join(env.DOCKER_CONFIG ?? join(homedir(), ".docker"), "config.json");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return resolverFrom();
    throw err;
  }
  return resolverFrom(parseDockerConfig(text, file));
}
