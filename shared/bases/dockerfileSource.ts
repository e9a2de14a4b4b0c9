/** Reads a managed image's Dockerfile: a file next to the enrollment, or a raw file by https URL. */
import { readFile } from "node:fs/promises";
import { fileGet } from "../registry/fileGet";
import type { Transport } from "../registry/transport";
import type { ManagedImage, TokenSource } from "./enrollmentTypes";
import { safeUrl, sendHttp } from "./http";
import type { TokenResolver } from "./tokens";

/** The Dockerfile's text and a name for it in messages; throws DockerfileSourceError when it cannot be read. */
export type DockerfileReader = (image: ManagedImage) => Promise<{ text: string; file: string }>;

export class DockerfileSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DockerfileSourceError";
  }
}

// Dockerfiles are a few KiB; a wrong URL pointing at something big should fail, not fill memory.
const MAX_DOCKERFILE_BYTES = 1024 * 1024;

export interface DockerfileReaderOptions {
  /** Needed for URLs. */
  transport?: Transport;
  /** Needed for URLs that name a token. */
  tokens?: TokenResolver;
}

export function dockerfileReader(options: DockerfileReaderOptions = {}): DockerfileReader {
  return async (image) => {
    const location = image.dockerfile.location;
    if (location.kind === "file") {
      try {
        return { text: await readFile(location.path, "utf8"), file: location.written };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        throw new DockerfileSourceError(`cannot read ${location.written}: ${code}`);
      }
    }
    const shown = safeUrl(location.url);
    if (!options.transport) throw new DockerfileSourceError(`cannot fetch ${shown}: no HTTP transport configured`);
    const text = location.token
      ? await withToken(options.transport, location.url, location.token, shown, options.tokens)
      : await withoutToken(options.transport, location.url, shown);
    return { text, file: shown };
  };
}

/** Without a token: the project's file GET, which follows redirects (raw file hosts use them). */
async function withoutToken(transport: Transport, url: string, shown: string): Promise<string> {
  let text: string | null;
  try {
    text = await fileGet(transport, new URL(url), { maxBytes: MAX_DOCKERFILE_BYTES });
  } catch (err) {
    throw new DockerfileSourceError(`cannot fetch ${shown}: ${(err as Error).message}`);
  }
  if (text === null) throw new DockerfileSourceError(`${shown} not found (404)`);
  return text;
}

/** With a token: no redirect is followed, so the token never reaches another host. */
async function withToken(
  transport: Transport,
  url: string,
  token: TokenSource,
  shown: string,
  tokens: TokenResolver | undefined,
): Promise<string> {
  if (!tokens) throw new DockerfileSourceError(`cannot fetch ${shown}: no token resolver configured`);
  let answer;
  try {
    const headers = { Authorization: `Bearer ${await tokens(token)}` };
    answer = await sendHttp(transport, { url, method: "GET", headers, retry: true, maxBytes: MAX_DOCKERFILE_BYTES });
  } catch (err) {
    throw new DockerfileSourceError(`cannot fetch ${shown}: ${(err as Error).message}`);
  }
  if (answer.status >= 300 && answer.status < 400) {
    throw new DockerfileSourceError(`${shown} redirected; a URL with a token must be the file itself`);
  }
  if (answer.status !== 200) throw new DockerfileSourceError(`fetching ${shown} answered ${answer.status}`);
  return answer.text;
}
