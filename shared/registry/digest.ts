import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

export class DigestMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
    what: string,
  ) {
    super(`${what}: digest mismatch, expected ${expected}, got ${actual}`);
    this.name = "DigestMismatchError";
  }
}

export class SizeMismatchError extends Error {
  constructor(expected: number, actual: number, what: string) {
    super(`${what}: size mismatch, expected ${expected} bytes, got ${actual}`);
    this.name = "SizeMismatchError";
  }
}

/**
 * Passes bytes through while hashing them and holds back the last chunk until the digest and size are proven, so a
 * consumer (an upload) never receives a complete but wrong body. Only sha256 is verified: it is all that registries
 * produce today; another algorithm is refused rather than passed unchecked.
 */
export class VerifyingStream extends Transform {
  private readonly hash = createHash("sha256");
  private held: Buffer | undefined;
  private seen = 0;

  constructor(
    private readonly expectedDigest: string,
    private readonly expectedSize: number | undefined,
    private readonly what: string,
  ) {
    super();
    if (!expectedDigest.startsWith("sha256:"))
      throw new Error(`${what}: unsupported digest algorithm in ${expectedDigest}`);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.seen += chunk.length;
    if (this.expectedSize !== undefined && this.seen > this.expectedSize) {
      done(new SizeMismatchError(this.expectedSize, this.seen, this.what));
      return;
    }
    const previous = this.held;
    this.held = chunk;
    done(null, previous);
  }

  override _flush(done: TransformCallback): void {
    const actual = `sha256:${this.hash.digest("hex")}`;
    if (this.expectedSize !== undefined && this.seen !== this.expectedSize) {
      done(new SizeMismatchError(this.expectedSize, this.seen, this.what));
    } else if (actual !== this.expectedDigest) {
      done(new DigestMismatchError(this.expectedDigest, actual, this.what));
    } else {
      done(null, this.held);
    }
  }

  get bytes(): number {
    return this.seen;
  }
}
