import semver from "semver";
import { TAG_ORDERS, TagFilter, TagRule } from "./configTypes";
import { isTag } from "./imageRef";
import { compileTagPattern } from "./tagPattern";
import { Field, YamlReader } from "./yamlReader";

/** Keys an image entry may use to choose tags; the image loader allows these beside its own keys. */
export const TAG_RULE_KEYS = [
  "tags",
  "semver",
  "prerelease",
  "allow",
  "deny",
  "newest",
  "order",
  "follow",
  "sibling",
  "followPlatform",
];

/** Keys that only refine another rule, and the rule they need. */
const MODIFIERS: Record<string, string> = {
  prerelease: "semver",
  order: "newest",
  sibling: "follow",
  followPlatform: "follow",
};

const MAX_NEWEST = 1000;

const RULE_LIST = "tags, semver, allow/deny, newest, follow, or a digest in source (repo@sha256:…)";

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function readTag(reader: YamlReader, field: Field): string | undefined {
  const tag = reader.string(field);
  if (tag === undefined) return undefined;
  if (!isTag(tag)) return reader.fail(field, `"${tag}" is not a valid tag (letters, digits, _ . -; at most 128)`);
  return tag;
}

function readPattern(reader: YamlReader, field: Field | undefined) {
  if (!field) return undefined;
  const source = reader.string(field);
  if (source === undefined) return undefined;
  const pattern = compileTagPattern(source);
  return typeof pattern === "string" ? reader.fail(field, pattern) : pattern;
}

function readFilter(reader: YamlReader, fields: Map<string, Field>): TagFilter | undefined {
  const allowField = fields.get("allow");
  const denyField = fields.get("deny");
  const allow = readPattern(reader, allowField);
  const deny = readPattern(reader, denyField);
  if ((allowField && !allow) || (denyField && !deny)) return undefined;
  return { ...(allow && { allow }), ...(deny && { deny }) };
}

function readTags(reader: YamlReader, field: Field): TagRule | undefined {
  const items = reader.list(field);
  if (!items) return undefined;
  if (items.length === 0) return reader.fail(field, "list at least one tag");
  const tags: string[] = [];
  let ok = true;
  for (const item of items) {
    const tag = readTag(reader, item);
    if (tag !== undefined && tags.includes(tag)) reader.fail(item, `tag "${tag}" is listed twice`);
    if (tag === undefined || tags.includes(tag)) ok = false;
    else tags.push(tag);
  }
  return ok ? { kind: "tags", tags } : undefined;
}

function readSemver(reader: YamlReader, field: Field, fields: Map<string, Field>): TagRule | undefined {
  const prereleaseField = fields.get("prerelease");
  const newestField = fields.get("newest");
  const orderField = fields.get("order");
  const range = reader.string(field);
  const prerelease = prereleaseField ? reader.bool(prereleaseField) : false;
  const newest = newestField ? reader.int(newestField, 1, MAX_NEWEST) : undefined;
  if (orderField)
    reader.fail(orderField, "semver ranks tags by semver; drop order (or use newest + order without semver)");
  if (range === undefined || prerelease === undefined || (newestField && newest === undefined) || orderField) {
    return undefined;
  }
  if (semver.validRange(range) === null) return reader.fail(field, `invalid range "${range}"`);
  return { kind: "semver", range: range.trim(), prerelease, ...(newest !== undefined ? { newest } : {}) };
}

function readNewest(reader: YamlReader, image: Field, fields: Map<string, Field>): TagRule | undefined {
  const countField = fields.get("newest");
  const orderField = fields.get("order");
  const count = countField && reader.int(countField, 1, MAX_NEWEST);
  if (!orderField) return reader.fail(image, `newest needs an order: ${TAG_ORDERS.join(", ")}`);
  const orderText = reader.string(orderField);
  const order = TAG_ORDERS.find((o) => o === orderText);
  if (orderText !== undefined && order === undefined) {
    reader.fail(orderField, `unknown order "${orderText}"; allowed: ${TAG_ORDERS.join(", ")}`);
  }
  const filter = readFilter(reader, fields);
  if (count === undefined || order === undefined || filter === undefined) return undefined;
  if (order === "created") {
    reader.warn(orderField, "created order reads the image config of every candidate tag (slow, uses rate limit)");
  }
  if (order === "lexical" && !filter.allow) {
    reader.warn(orderField, "lexical order without allow compares every tag, `latest` included; add an allow pattern");
  }
  return { kind: "newest", count, order, expensive: order === "created", ...filter };
}

const FOLLOW_PLATFORM = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/([a-z0-9]+))?$/;

/** `followPlatform: linux/amd64`: compare the follow tag and its siblings by that platform's child digest. */
function withFollowPlatform(
  reader: YamlReader,
  rule: TagRule | undefined,
  field: Field | undefined,
): TagRule | undefined {
  if (!field || !rule || rule.kind !== "follow") return rule;
  const text = reader.string(field);
  if (text === undefined) return undefined;
  const m = FOLLOW_PLATFORM.exec(text);
  if (!m?.[1] || !m[2]) return reader.fail(field, `"${text}" is not a platform such as linux/amd64 or linux/arm64/v8`);
  return { ...rule, platform: { os: m[1], architecture: m[2], ...(m[3] ? { variant: m[3] } : {}) } };
}

function readFollow(reader: YamlReader, field: Field, siblingField: Field | undefined): TagRule | undefined {
  const tag = readTag(reader, field);
  if (tag === undefined) return undefined;
  if (siblingField) {
    const sibling = readPattern(reader, siblingField);
    return sibling && { kind: "follow", tag, sibling };
  }
  // RunWhen's convention: `<ref>-latest` moves, `<ref>-<commit>` stays; default to it so the common case is one line.
  const ref = /^(.+)-latest$/.exec(tag)?.[1];
  if (ref === undefined) return reader.fail(field, `sibling is required unless the followed tag is "<ref>-latest"`);
  const sibling = compileTagPattern(`${escapeRegex(ref)}-[0-9a-f]{7,}`);
  return typeof sibling === "string" ? reader.fail(field, sibling) : { kind: "follow", tag, sibling };
}

/**
 * Reads the one tag rule of an image entry. Exactly one rule must be present; refinements (`prerelease`, `order`,
 * `sibling`) are refused without their rule so a typo never silently widens what gets mirrored.
 */
export function readTagRule(
  reader: YamlReader,
  image: Field,
  fields: Map<string, Field>,
  digest: { value: string; field: Field } | undefined,
  reportMissing = true,
): TagRule | undefined {
  let ok = true;
  // `semver` + `newest`: the newest N inside the range; newest is then a refinement, not a rule of its own.
  const semverNewest = fields.has("semver") && fields.has("newest");
  for (const [modifier, needs] of Object.entries(MODIFIERS)) {
    const field = fields.get(modifier);
    if (field && !fields.has(needs) && !(semverNewest && modifier === "order")) {
      reader.fail(field, `only applies together with ${needs}`);
      ok = false;
    }
  }

  const present: { name: string; field: Field }[] = [];
  for (const name of ["tags", "semver", "newest", "follow"]) {
    if (name === "newest" && semverNewest) continue;
    const field = fields.get(name);
    if (field) present.push({ name, field });
  }
  const filterField = fields.get("allow") ?? fields.get("deny");
  // allow/deny refine newest, and stand alone otherwise.
  if (filterField && !fields.has("newest")) present.push({ name: "allow/deny", field: filterField });
  if (digest) present.push({ name: "digest in source", field: digest.field });

  // Point at whichever rule comes second in the file, whatever order we looked for them in.
  present.sort((a, b) => a.field.line - b.field.line);
  const [first, second] = present;
  if (!first) return reportMissing ? reader.fail(image, `no tag rule; give exactly one of ${RULE_LIST}`) : undefined;
  if (second) {
    const names = present.map((p) => p.name).join(", ");
    return reader.fail(
      { path: image.path, line: second.field.line },
      `more than one tag rule (${names}); give exactly one`,
    );
  }
  if (!ok) return undefined;

  switch (first.name) {
    case "tags":
      return readTags(reader, first.field);
    case "semver":
      return readSemver(reader, first.field, fields);
    case "newest":
      return readNewest(reader, image, fields);
    case "follow":
      return withFollowPlatform(
        reader,
        readFollow(reader, first.field, fields.get("sibling")),
        fields.get("followPlatform"),
      );
    case "allow/deny": {
      const filter = readFilter(reader, fields);
      return filter && { kind: "filter", ...filter };
    }
    default:
      return digest && { kind: "digest", digest: digest.value };
  }
}

/**
 * `rules:` — a list of tag rules for one source repository and one target repository; each item is a map with the
 * keys of one rule. Refused beside a rule of the entry itself, so it is always clear which rules apply.
 */
export function readTagRules(
  reader: YamlReader,
  image: Field,
  fields: Map<string, Field>,
  rulesField: Field,
  digest: { value: string; field: Field } | undefined,
): TagRule | undefined {
  const beside = [...fields.keys()].filter((k) => TAG_RULE_KEYS.includes(k));
  if (beside.length) return reader.fail(image, `rules replaces ${beside.join(", ")}; move them into an item of rules`);
  if (digest) return reader.fail(digest.field, "a digest in source is a rule of its own; drop it or rules");
  const items = reader.list(rulesField);
  if (!items) return undefined;
  if (items.length === 0) return reader.fail(rulesField, "list at least one rule");
  const rules: TagRule[] = [];
  let ok = true;
  for (const item of items) {
    const itemFields = reader.map(item, TAG_RULE_KEYS);
    const rule = itemFields && readTagRule(reader, item, itemFields, undefined);
    if (rule) rules.push(rule);
    else ok = false;
  }
  if (!ok) return undefined;
  return rules.length === 1 ? rules[0] : { kind: "any", rules };
}
