/**
 * The enrollment file (YAML): strict like the sync config — unknown keys refused, every problem reported at once as
 * `file:line: key.path: message`, tags kept as written. An entry with a `dockerfile` is managed, one without is
 * external; moving between the two is adding or removing that key, so keys that only apply to the other kind are
 * warnings, not errors.
 */
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { isMap, isScalar, LineCounter, parseDocument } from "yaml";
import { InvalidReferenceError, isLoopback, parseReference, type ImageReference } from "../registry";
import { ConfigError } from "../sync/configError";
import type { ConfigWarning } from "../sync/configTypes";
import { isSha256Digest, repositoryPathProblem } from "../sync/imageRef";
import { readTagRule, TAG_RULE_KEYS } from "../sync/tagRuleConfig";
import { childPath, type Field, YamlReader } from "../sync/yamlReader";
import {
  DAY_MS,
  DEFAULT_REBUILD_DELAY_MS,
  type CriticalBase,
  type DockerfileSpec,
  type EnrolledImage,
  type Enrollment,
  type TokenSource,
  type TriggerSpec,
} from "./enrollmentTypes";
import { parseImageName, watchKey } from "./imageName";

export interface LoadedEnrollment {
  enrollment: Enrollment;
  warnings: ConfigWarning[];
}

const TOP_KEYS = ["defaults", "critical", "images"];
const DEFAULT_KEYS = ["rebuildDelay"];
const MANAGED_ONLY = ["dockerfile", "build", "rebuildDelay", "builtFrom", "trigger"];
const EXTERNAL_ONLY = ["target", ...TAG_RULE_KEYS];
const IMAGE_KEYS = ["name", "image", ...MANAGED_ONLY, ...EXTERNAL_ONLY];
const DOCKERFILE_KEYS = ["path", "url", "buildArgs", "token"];
const TRIGGER_KEYS = ["github", "gitlab", "ref", "inputs", "token", "enabled"];
const TOKEN_KEYS = ["env", "keyVaultSecret"];

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const KEY_VAULT_SECRET = /^[0-9a-zA-Z-]{1,127}$/;
const ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DURATION = /^(\d{1,4})(d|h|m)$/;
const UNIT_MS: Record<string, number> = { d: DAY_MS, h: 60 * 60 * 1000, m: 60 * 1000 };
const MAX_DELAY_MS = 365 * DAY_MS;
// What each kind of trigger URL ends with; a URL that does not is almost certainly the page, not the API.
const TRIGGER_PATH = { github: /\/dispatches$/, gitlab: /\/trigger\/pipeline$/ } as const;

function required(reader: YamlReader, parent: Field, fields: Map<string, Field>, key: string): Field | undefined {
  const field = fields.get(key);
  if (!field) reader.fail(parent, `missing required key "${key}"`);
  return field;
}

function readDuration(reader: YamlReader, field: Field): number | undefined {
  const text = reader.text(field);
  if (text === "0") return 0;
  const match = text === undefined ? null : DURATION.exec(text);
  if (!match?.[1] || !match[2]) {
    return reader.fail(
      field,
      `expected a duration such as 7d, 36h or 90m (or 0), got ${text === undefined ? "no text" : `"${text}"`}`,
    );
  }
  const ms = Number(match[1]) * UNIT_MS[match[2]]!;
  return ms > MAX_DELAY_MS ? reader.fail(field, `at most 365d, got "${text}"`) : ms;
}

function readStringMap(
  reader: YamlReader,
  field: Field,
  keyPattern: RegExp,
  what: string,
): Record<string, string> | undefined {
  const fields = reader.map(field);
  if (!fields) return undefined;
  const out: Record<string, string> = {};
  let ok = true;
  for (const [key, value] of fields) {
    const text = reader.string(value);
    if (!keyPattern.test(key)) {
      reader.fail(value, `"${key}" is not a valid ${what} name`);
      ok = false;
    } else if (text === undefined) ok = false;
    else out[key] = text;
  }
  return ok ? out : undefined;
}

/**
 * `{ env: NAME }` or `{ keyVaultSecret: name }`. A plain string is refused without being quoted back: it is most
 * likely the token itself, which must not be in a file, a log or an error message.
 */
function readToken(reader: YamlReader, field: Field): TokenSource | undefined {
  if (!isMap(field.node)) {
    return reader.fail(
      field,
      "give where the token comes from ({ env: NAME } or { keyVaultSecret: name }), never the token itself",
    );
  }
  const fields = reader.map(field, TOKEN_KEYS);
  if (!fields) return undefined;
  const env = fields.get("env");
  const secret = fields.get("keyVaultSecret");
  if (env && secret) return reader.fail(secret, "give either env or keyVaultSecret, not both");
  if (env) {
    const name = reader.string(env);
    if (name === undefined) return undefined;
    return ENV_NAME.test(name)
      ? { kind: "env", name }
      : reader.fail(env, `"${name}" is not an environment variable name`);
  }
  if (secret) {
    const secretName = reader.string(secret);
    if (secretName === undefined) return undefined;
    if (!KEY_VAULT_SECRET.test(secretName)) {
      return reader.fail(secret, `"${secretName}" is not a Key Vault secret name (letters, digits, -)`);
    }
    return { kind: "keyVault", secretName };
  }
  return reader.fail(field, "give env (an app setting or environment variable) or keyVaultSecret");
}

/** An https URL (http only on loopback, for local stand-ins), without credentials in it. */
function readUrl(reader: YamlReader, field: Field, what: string): URL | undefined {
  const text = reader.string(field);
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return reader.fail(field, `${what} is not a URL`);
  }
  if (url.username || url.password) return reader.fail(field, `${what} must not carry credentials; use token`);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url.host))) {
    return reader.fail(field, `${what} must be https (http only on 127.0.0.1 or localhost)`);
  }
  return url;
}

class EnrollmentReader {
  constructor(
    readonly reader: YamlReader,
    private readonly baseDir: string,
  ) {}

  dockerfile(field: Field): DockerfileSpec | undefined {
    const { reader } = this;
    const text = reader.text(field);
    if (text !== undefined) {
      if (/^https?:\/\//.test(text)) {
        const url = readUrl(reader, field, "dockerfile");
        return url && { location: { kind: "url", url: url.toString() }, buildArgs: {} };
      }
      return this.localDockerfile(field, text, {});
    }
    const fields = reader.map(field, DOCKERFILE_KEYS);
    if (!fields) return undefined;
    const pathField = fields.get("path");
    const urlField = fields.get("url");
    const argsField = fields.get("buildArgs");
    const tokenField = fields.get("token");
    const buildArgs = argsField ? readStringMap(reader, argsField, ARG_NAME, "build argument") : {};
    if (pathField && urlField) return reader.fail(urlField, "give either path or url, not both");
    if (!pathField && !urlField) return reader.fail(field, "give path (a file next to this enrollment) or url");
    if (pathField && tokenField) reader.fail(tokenField, "token only applies to url");
    if (pathField) {
      const path = reader.string(pathField);
      if (path === undefined || !buildArgs || tokenField) return undefined;
      return this.localDockerfile(pathField, path, buildArgs);
    }
    const url = urlField && readUrl(reader, urlField, "url");
    const token = tokenField ? readToken(reader, tokenField) : undefined;
    if (!url || !buildArgs || (tokenField && !token)) return undefined;
    return { location: { kind: "url", url: url.toString(), ...(token ? { token } : {}) }, buildArgs };
  }

  private localDockerfile(field: Field, path: string, buildArgs: Record<string, string>): DockerfileSpec | undefined {
    if (!path) return this.reader.fail(field, "empty path");
    const full = isAbsolute(path) ? path : resolve(this.baseDir, path);
    return { location: { kind: "file", path: full, written: path }, buildArgs };
  }

  trigger(field: Field): TriggerSpec | undefined {
    const { reader } = this;
    const fields = reader.map(field, TRIGGER_KEYS);
    if (!fields) return undefined;
    const github = fields.get("github");
    const gitlab = fields.get("gitlab");
    if (github && gitlab) return reader.fail(gitlab, "give either github or gitlab, not both");
    const urlField = github ?? gitlab;
    if (!urlField)
      return reader.fail(field, "give github (a workflow_dispatch URL) or gitlab (a pipeline trigger URL)");
    const kind = github ? "github" : "gitlab";
    const url = readUrl(reader, urlField, `${kind} trigger URL`);
    if (url && !TRIGGER_PATH[kind].test(url.pathname)) {
      const example =
        kind === "github"
          ? "https://api.github.com/repos/<owner>/<repo>/actions/workflows/<file>/dispatches"
          : "https://gitlab.com/api/v4/projects/<id>/trigger/pipeline";
      reader.fail(urlField, `not a ${kind} trigger API URL; expected ${example}`);
    }
    const refField = required(reader, field, fields, "ref");
    const ref = refField && reader.string(refField);
    const tokenField = required(reader, field, fields, "token");
    const token = tokenField && readToken(reader, tokenField);
    const inputsField = fields.get("inputs");
    const inputs = inputsField ? readStringMap(reader, inputsField, /^[A-Za-z_][A-Za-z0-9_-]*$/, "input") : {};
    const enabledField = fields.get("enabled");
    const enabled = enabledField ? reader.bool(enabledField) : false;
    if (!url || !TRIGGER_PATH[kind].test(url.pathname) || !ref || !token || !inputs || enabled === undefined) {
      return undefined;
    }
    return { kind, url: url.toString(), ref, inputs, token, enabled };
  }

  builtFrom(field: Field): Record<string, string> | undefined {
    const { reader } = this;
    const fields = reader.map(field);
    if (!fields) return undefined;
    const out: Record<string, string> = {};
    let ok = true;
    for (const [ref, value] of fields) {
      const digest = reader.string(value);
      let key: string | undefined;
      try {
        key = watchKey(parseImageName(ref));
      } catch (err) {
        if (!(err instanceof InvalidReferenceError)) throw err;
        reader.fail(value, `"${ref}" is not an image reference`);
      }
      if (digest !== undefined && !isSha256Digest(digest)) {
        reader.fail(value, `"${digest}" is not a sha256 digest (sha256:<64 lower-case hex>)`);
        ok = false;
      }
      if (key === undefined || digest === undefined || !isSha256Digest(digest)) ok = false;
      else out[key] = digest;
    }
    return ok ? out : undefined;
  }

  critical(field: Field): CriticalBase[] | undefined {
    const { reader } = this;
    const items = reader.list(field);
    if (!items) return undefined;
    const out: CriticalBase[] = [];
    for (const item of items) {
      const text = reader.string(item);
      const ref = text === undefined ? undefined : this.reference(item, text);
      if (!ref) continue;
      if (ref.digest) {
        reader.fail(item, "a critical base names a repository or a tag, not a digest");
        continue;
      }
      out.push({
        registry: ref.registry,
        repository: ref.repository,
        ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
      });
    }
    return out.length === items.length ? out : undefined;
  }

  reference(field: Field, text: string): ImageReference | undefined {
    try {
      return parseReference(text);
    } catch (err) {
      if (err instanceof InvalidReferenceError) return this.reader.fail(field, err.message);
      throw err;
    }
  }
}

interface ImageContext {
  enroll: EnrollmentReader;
  defaultDelayMs: number;
}

function warnIgnored(reader: YamlReader, fields: Map<string, Field>, keys: readonly string[], why: string): void {
  for (const key of keys) {
    const field = fields.get(key);
    if (field) reader.warn(field, `ignored: ${why}`);
  }
}

function defaultName(repository: string): string {
  return repository.split("/").at(-1) ?? repository;
}

function readImage(ctx: ImageContext, field: Field, index: number): EnrolledImage | undefined {
  const { enroll } = ctx;
  const { reader } = enroll;
  const issuesBefore = reader.issues.length;
  const fields = reader.map(field, IMAGE_KEYS);
  if (!fields) return undefined;
  const hasUnknownKey = reader.issues.length > issuesBefore;
  const imageField = required(reader, field, fields, "image");
  const imageText = imageField && reader.string(imageField);
  const ref = imageField && imageText !== undefined ? enroll.reference(imageField, imageText) : undefined;
  const nameField = fields.get("name");
  const nameText = nameField ? reader.string(nameField) : ref && defaultName(ref.repository);
  if (nameField && nameText !== undefined && !NAME.test(nameText)) {
    reader.fail(nameField, `"${nameText}" is not a valid name (lower-case letters, digits, . _ -; at most 63)`);
  }
  const name = nameText !== undefined && NAME.test(nameText) ? nameText : undefined;
  const line = field.line;
  const dockerfileField = fields.get("dockerfile");

  if (dockerfileField) {
    warnIgnored(reader, fields, EXTERNAL_ONLY, "a managed image (with a dockerfile) is built, not mirrored");
    const dockerfile = enroll.dockerfile(dockerfileField);
    if (imageField && ref?.digest) reader.fail(imageField, "a managed image is watched by tag; remove the digest");
    const buildField = fields.get("build");
    const build = buildField ? readUrl(reader, buildField, "build") : undefined;
    const delayField = fields.get("rebuildDelay");
    const delay = delayField ? readDuration(reader, delayField) : ctx.defaultDelayMs;
    const builtFromField = fields.get("builtFrom");
    const builtFrom = builtFromField ? enroll.builtFrom(builtFromField) : {};
    const triggerField = fields.get("trigger");
    const trigger = triggerField ? enroll.trigger(triggerField) : undefined;
    if (!ref || ref.digest || !name || !dockerfile || delay === undefined || !builtFrom) return undefined;
    if ((buildField && !build) || (triggerField && !trigger)) return undefined;
    return {
      kind: "managed",
      name,
      index,
      line,
      image: { registry: ref.registry, repository: ref.repository, tag: ref.tag ?? "latest" },
      dockerfile,
      ...(build ? { buildLink: build.toString() } : {}),
      rebuildDelayMs: delay,
      builtFrom,
      ...(trigger ? { trigger } : {}),
    };
  }

  warnIgnored(reader, fields, MANAGED_ONLY, "only a managed image (one with a dockerfile) is rebuilt");
  const ruleKeys = TAG_RULE_KEYS.filter((k) => fields.has(k));
  if (imageField && ref?.tag !== undefined && ref.digest !== undefined) {
    reader.fail(imageField, "give a tag or a digest, not both");
    return undefined;
  }
  if (imageField && ref?.tag !== undefined && ruleKeys.length > 0) {
    reader.fail(imageField, `the tag in image is a tag rule; remove it or ${ruleKeys.join(", ")}`);
    return undefined;
  }
  const digest = ref?.digest !== undefined && imageField ? { value: ref.digest, field: imageField } : undefined;
  if (digest && !isSha256Digest(digest.value)) {
    reader.fail(imageField!, `"${digest.value}" is not a sha256 digest (sha256:<64 lower-case hex>)`);
    return undefined;
  }
  const rule =
    ref?.tag !== undefined
      ? ({ kind: "tags", tags: [ref.tag] } as const)
      : readTagRule(reader, field, fields, digest, !hasUnknownKey && ref !== undefined);
  const targetField = fields.get("target");
  const target = targetField ? reader.string(targetField) : undefined;
  const problem = target === undefined ? undefined : repositoryPathProblem(target);
  if (targetField && problem) reader.fail(targetField, `repository "${target}" ${problem}`);
  if (!ref || !name || !rule || (targetField && (target === undefined || problem))) return undefined;
  return {
    kind: "external",
    name,
    index,
    line,
    image: { registry: ref.registry, repository: ref.repository },
    rule,
    ...(target !== undefined ? { target } : {}),
  };
}

function checkDuplicates(reader: YamlReader, images: readonly EnrolledImage[]): void {
  const names = new Map<string, EnrolledImage>();
  const managed = new Map<string, EnrolledImage>();
  for (const image of images) {
    const where = { path: childPath(childPath("images", image.index), "name"), line: image.line };
    const earlier = names.get(image.name);
    if (earlier) {
      reader.fail(
        where,
        `name "${image.name}" is already used by images[${earlier.index}] (line ${earlier.line}); set a distinct name`,
      );
    }
    names.set(image.name, image);
    if (image.kind !== "managed") continue;
    const key = watchKey(image.image);
    const same = managed.get(key);
    if (same)
      reader.fail(
        { ...where, path: childPath(childPath("images", image.index), "image") },
        `${key} is already enrolled as "${same.name}"`,
      );
    managed.set(key, image);
  }
}

/** Parses and validates an enrollment; throws `ConfigError` listing every problem. `file` resolves relative paths. */
export function parseEnrollment(text: string, file: string): LoadedEnrollment {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const reader = new YamlReader(file, doc, lineCounter);
  for (const err of doc.errors)
    reader.fail({ path: "", line: reader.lineAt(err.pos[0]) }, `YAML syntax: ${err.message}`);
  for (const w of doc.warnings) reader.warn({ path: "", line: reader.lineAt(w.pos[0]) }, `YAML: ${w.message}`);
  const enrollment =
    doc.errors.length === 0 ? readEnrollment(new EnrollmentReader(reader, dirname(resolve(file))), file) : undefined;
  const [first, ...rest] = reader.issues;
  if (first) throw new ConfigError([first, ...rest]);
  if (!enrollment) throw new Error("enrollment reader returned nothing without recording an issue");
  return { enrollment, warnings: reader.warnings };
}

function readEnrollment(enroll: EnrollmentReader, file: string): Enrollment | undefined {
  const { reader } = enroll;
  const root = reader.root();
  if (root.node === null || (isScalar(root.node) && root.node.value === null)) {
    return reader.fail(root, "empty enrollment; expected a map with images");
  }
  const fields = reader.map(root, TOP_KEYS);
  if (!fields) return undefined;
  const defaultsField = fields.get("defaults");
  const defaultFields = defaultsField ? reader.map(defaultsField, DEFAULT_KEYS) : new Map<string, Field>();
  const delayField = defaultFields?.get("rebuildDelay");
  const rebuildDelayMs = delayField ? readDuration(reader, delayField) : DEFAULT_REBUILD_DELAY_MS;
  const criticalField = fields.get("critical");
  const critical = criticalField ? enroll.critical(criticalField) : [];
  const imagesField = required(reader, root, fields, "images");
  const items = imagesField ? reader.list(imagesField) : undefined;
  const ctx: ImageContext = { enroll, defaultDelayMs: rebuildDelayMs ?? DEFAULT_REBUILD_DELAY_MS };
  const images: EnrolledImage[] = [];
  let ok = items !== undefined;
  items?.forEach((item, index) => {
    const image = readImage(ctx, item, index);
    if (image) images.push(image);
    else ok = false;
  });
  checkDuplicates(reader, images);
  if (!ok || !defaultFields || rebuildDelayMs === undefined || !critical) return undefined;
  if (images.length === 0) reader.warn(root, "no images: nothing is enrolled");
  return { file, defaults: { rebuildDelayMs }, critical, images };
}

export async function loadEnrollmentFile(path: string): Promise<LoadedEnrollment> {
  return parseEnrollment(await readFile(path, "utf8"), path);
}
