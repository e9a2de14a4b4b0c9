/** `acr-image-sync copy <source> <target>`: one image, by digest, with progress on stderr and JSON on stdout. */
import { progressLine } from "./progress";
import { AuthManager, type CredentialResolver } from "../shared/registry/auth";
import { RegistryClient } from "../shared/registry/client";
import { copyImage, CopyError, type CopyProgress, type CopyResult } from "../shared/registry/copy";
import { InvalidReferenceError, parseReference, withDefaultTag } from "../shared/registry/reference";
import { Transport, isLoopback } from "../shared/registry/transport";

export interface CopyCommandInput {
  source: string;
  target: string;
  tags: string[];
  concurrency: number;
  credentials: CredentialResolver;
  /** Extra hosts reached over plain http (loopback always is). */
  plainHttp: string[];
}

export interface Output {
  stdout(line: string): void;
  stderr(line: string): void;
}

export const EXIT = { ok: 0, failed: 1, badInput: 2 } as const;

export async function runCopy(input: CopyCommandInput, out: Output): Promise<number> {
  let source, target;
  try {
    source = withDefaultTag(parseReference(input.source));
    target = parseReference(input.target);
  } catch (err) {
    if (err instanceof InvalidReferenceError) {
      out.stderr(`error: ${err.message}`);
      return EXIT.badInput;
    }
    throw err;
  }
  if (target.digest) {
    out.stderr("error: the target names a repository (and optionally a tag), not a digest");
    return EXIT.badInput;
  }
  const tags = [...new Set([...input.tags, ...(target.tag ? [target.tag] : [])])];
  if (tags.length === 0 && source.tag && !source.digest) tags.push(source.tag);

  const plain = new Set(input.plainHttp);
  const plainHttp = (host: string) => isLoopback(host) || plain.has(host);
  const auth = new AuthManager({ credentials: input.credentials, allowPlainHttp: plainHttp });
  const client = new RegistryClient(new Transport({ auth, plainHttp }));
  const started = Date.now();
  const progress = (e: CopyProgress) => out.stderr(progressLine(e));
  try {
    const result: CopyResult = await copyImage(
      client,
      {
        registry: source.registry,
        repository: source.repository,
        ...(source.digest ? { digest: source.digest } : { tag: source.tag! }),
      },
      { registry: target.registry, repository: target.repository },
      tags,
      { concurrency: input.concurrency, onProgress: progress },
    );
    out.stdout(
      JSON.stringify(
        {
          ok: true,
          source: input.source,
          target: `${target.registry}/${target.repository}`,
          ...result,
          seconds: (Date.now() - started) / 1000,
        },
        null,
        2,
      ),
    );
    return EXIT.ok;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    out.stderr(`error: ${message}`);
    const partial = err instanceof CopyError ? err.partial : undefined;
    out.stdout(
      JSON.stringify({ ok: false, source: input.source, error: message, ...(partial ? { partial } : {}) }, null, 2),
    );
    return EXIT.failed;
  }
}
