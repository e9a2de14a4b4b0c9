import semver, { SemVer } from "semver";
import { TagOrder } from "./configTypes";

/**
 * The version a tag names, or undefined when it is not a full `major.minor.patch[-pre]` version.
 *
 * Strict parsing already accepts a leading `v` (`v0.6.1`); we add only the upper-case `V`. We deliberately do not fall
 * back to `semver.coerce`: it invents versions from any digits (`main-abc1234` → 1234.0.0, `20250101120000` →
 * 20250101120000.0.0, `9` → 9.0.0, `1.10` → 1.10.0), which would let commit hashes and date stamps outrank real
 * releases. Like Kargo's strict mode, partial versions such as `1.10` and `9` are not semver tags.
 */
export function semverOfTag(tag: string): SemVer | undefined {
  const text = tag.startsWith("V") ? `v${tag.slice(1)}` : tag;
  return semver.parse(text) ?? undefined;
}

const DIGITS = /^[0-9]+$/;

/** Whole numbers only, compared as BigInt so 14-digit date stamps and longer never lose precision. */
export function numberOfTag(tag: string): bigint | undefined {
  return DIGITS.test(tag) ? BigInt(tag) : undefined;
}

/** A tag `version` order can rank: an optional `v`/`V`, then a digit (so `latest` and `main-abc` never rank). */
const VERSION_TAG = /^[vV]?[0-9]/;

export function versionOfTag(tag: string): string | undefined {
  return VERSION_TAG.test(tag) ? tag.replace(/^[vV]/, "") : undefined;
}

/** gnulib's `order()`: digits 0 (never compared here), letters by code, `~` before everything, others after letters. */
function versionCharOrder(c: string | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  if (c === "~") return -1;
  return c.charCodeAt(0) + 256;
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

/**
 * `sort -V`'s comparison (gnulib `verrevcmp`, as used by `filevercmp`, without its file-suffix handling): runs of
 * digits compare as numbers (`1.9 < 1.10`, leading zeros ignored), other runs character by character with letters
 * before punctuation and `~` before everything, and a longer version after its prefix (`1.2 < 1.2.1`).
 */
export function compareVersions(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = i < a.length ? versionCharOrder(a[i]) : 0;
      const bc = j < b.length ? versionCharOrder(b[j]) : 0;
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a[i] === "0") i++;
    while (b[j] === "0") j++;
    let firstDiff = 0;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

/** Code-unit order, never locale order, so every machine ranks tags the same way. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Ranked<K> {
  tag: string;
  key: K;
}

/** Newest first; equal keys (`1.2.3` and `v1.2.3`, `9` and `09`) fall back to tag text so the result is stable. */
function rank<K>(items: Ranked<K>[], compareKeys: (a: K, b: K) => number): string[] {
  return items.sort((a, b) => compareKeys(b.key, a.key) || compareText(a.tag, b.tag)).map((item) => item.tag);
}

function keyed<K>(tags: readonly string[], keyOf: (tag: string) => K | undefined): Ranked<K>[] {
  const out: Ranked<K>[] = [];
  for (const tag of tags) {
    const key = keyOf(tag);
    if (key !== undefined) out.push({ tag, key });
  }
  return out;
}

/**
 * Tags ordered newest first. Tags the order cannot rank (not semver, not a number, no known creation time) are left
 * out rather than guessed at, so `latest` never wins a semver race.
 */
export function newestFirst(
  order: TagOrder,
  tags: readonly string[],
  createdOf: (tag: string) => Date | undefined = () => undefined,
): string[] {
  switch (order) {
    case "version":
      return rank(keyed(tags, versionOfTag), compareVersions);
    case "semver":
      return rank(keyed(tags, semverOfTag), (a, b) => semver.compareBuild(a, b));
    case "numeric":
      return rank(keyed(tags, numberOfTag), (a, b) => (a < b ? -1 : a > b ? 1 : 0));
    case "lexical":
      return rank(
        keyed(tags, (tag) => tag),
        compareText,
      );
    case "created":
      return rank(
        keyed(tags, (tag) => {
          const time = createdOf(tag)?.getTime();
          return time === undefined || Number.isNaN(time) ? undefined : time;
        }),
        (a, b) => a - b,
      );
  }
}
