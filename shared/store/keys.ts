/**
 * Table Storage keys: `/ \ # ?` and control characters are forbidden, and keys are capped at 1 KiB. Encoding is
 * reversible (percent-encoding), so a key can always be turned back into the name it came from.
 */

import { createHash } from "node:crypto";

const MAX_KEY_CHARS = 512; // 1 KiB of UTF-16

export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyError";
  }
}

function percentEncode(value: string): string {
  try {
    // encodeURIComponent leaves ' ( ) * ! ~ alone; none is forbidden in a key, but `'` would need escaping in filters.
    return encodeURIComponent(value).replace(/'/g, "%27");
  } catch {
    throw new KeyError("key is not well-formed text (a lone UTF-16 surrogate)");
  }
}

export function encodeKey(value: string): string {
  const encoded = percentEncode(value);
  if (encoded.length > MAX_KEY_CHARS)
    throw new KeyError(`key too long (${encoded.length} characters encoded; max ${MAX_KEY_CHARS})`);
  return encoded;
}

/**
 * A key for a name that may be too long for Table Storage (a repository path with many `/` encodes to three
 * characters each): the reversible encoding when it fits, else its head and a SHA-256 of the whole name. Rows keyed
 * this way carry the name in a column of their own, so nothing needs to decode the key.
 */
export function tableKey(value: string): string {
  // A lone surrogate becomes U+FFFD here: the name column keeps the original, the key only has to be valid.
  const encoded = percentEncode(
    value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD"),
  );
  if (encoded.length <= MAX_KEY_CHARS) return encoded;
  return `${encoded.slice(0, MAX_KEY_CHARS - 66)}~${createHash("sha256").update(value).digest("hex")}`;
}

export function decodeKey(key: string): string {
  return decodeURIComponent(key);
}

const MAX_TIME = 9_999_999_999_999;

/** A key that sorts newest first: the time inverted and zero-padded to 13 digits. */
export function newestFirstKey(epochMs: number): string {
  return String(MAX_TIME - epochMs).padStart(13, "0");
}

export function timeFromNewestFirstKey(key: string): number {
  return MAX_TIME - Number(key.slice(0, 13));
}
