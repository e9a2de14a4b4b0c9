/**
 * Table Storage keys: `/ \ # ?` and control characters are forbidden, and keys are capped at 1 KiB. Encoding is
 * reversible (percent-encoding), so a key can always be turned back into the name it came from.
 */

const MAX_KEY_CHARS = 512; // 1 KiB of UTF-16

export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyError";
  }
}

export function encodeKey(value: string): string {
  // encodeURIComponent leaves ' ( ) * ! ~ alone; none is forbidden in a key, but `'` would need escaping in filters.
  const encoded = encodeURIComponent(value).replace(/'/g, "%27");
  if (encoded.length > MAX_KEY_CHARS) throw new KeyError(`key too long (${encoded.length} characters encoded; max ${MAX_KEY_CHARS})`);
  return encoded;
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
