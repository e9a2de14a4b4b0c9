/**
 * The supply-chain keys of `defaults` and of each image: `referrers` (true, false, or `{artifactTypes: [...]}`) and
 * `verify` (`{cosignKey, notationCert, require: signed}`, or false to turn off a default). Keys and certificates
 * given as PEM or a file are parsed here, so a broken key is a config error at its line, not a failed run.
 */
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { isMap, isScalar } from "yaml";
import { MAX_PEM_BYTES, cosignKeyFromPem, notationCertFromPem } from "../supply/keys";
import type { ReferrerPolicy, SyncDefaults, TrustSource, VerifyPolicy } from "./configTypes";
import type { Field, YamlReader } from "./yamlReader";

export const SUPPLY_KEYS = ["referrers", "verify"];
const VERIFY_KEYS = ["cosignKey", "notationCert", "require"];
const KEY_VAULT_SECRET = /^[0-9a-zA-Z-]{1,127}$/;
/** An OCI media type (RFC 6838 name with an optional +suffix), as artifactType values are. */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
const MAX_ARTIFACT_TYPES = 32;

interface PathOptions {
  baseDir?: string;
  fromUrl?: boolean;
}

function readReferrers(reader: YamlReader, field: Field): ReferrerPolicy | false | undefined {
  if (isScalar(field.node) && typeof field.node.value === "boolean") {
    const on = reader.bool(field);
    return on === undefined ? undefined : on ? {} : false;
  }
  const fields = reader.map(field, ["artifactTypes"]);
  if (!fields) return undefined;
  const typesField = fields.get("artifactTypes");
  if (!typesField) return {};
  const items = reader.list(typesField);
  if (!items) return undefined;
  if (items.length === 0 || items.length > MAX_ARTIFACT_TYPES)
    return reader.fail(typesField, `list 1 to ${MAX_ARTIFACT_TYPES} artifact types, or use referrers: true for all`);
  const types: string[] = [];
  for (const item of items) {
    const type = reader.string(item);
    if (type === undefined) return undefined;
    if (!MEDIA_TYPE.test(type)) return reader.fail(item, `"${type.slice(0, 80)}" is not a media type`);
    types.push(type);
  }
  return { artifactTypes: types };
}

function readPem(reader: YamlReader, field: Field, what: string, options: PathOptions): string | undefined {
  const text = reader.string(field);
  if (text === undefined) return undefined;
  if (text.trimStart().startsWith("-----BEGIN")) return text;
  // A file path: read now, relative to the config file, so the config means the same wherever the tool runs.
  if (options.fromUrl && !isAbsolute(text))
    return reader.fail(field, `"${text}" must be an absolute path in a config read from a URL`);
  const full = options.baseDir === undefined ? text : resolve(options.baseDir, text);
  if (!existsSync(full)) return reader.fail(field, `${what} file "${text}" not found`);
  const pem = readFileSync(full, "utf8");
  if (pem.length > MAX_PEM_BYTES) return reader.fail(field, `${what} file "${text}" is over ${MAX_PEM_BYTES} bytes`);
  return pem;
}

function readTrust(
  reader: YamlReader,
  field: Field,
  what: "cosign key" | "notation certificate",
  options: PathOptions,
): TrustSource | undefined {
  if (isMap(field.node)) {
    const fields = reader.map(field, ["keyVaultSecret"]);
    const secretField = fields?.get("keyVaultSecret");
    if (!fields) return undefined;
    if (!secretField) return reader.fail(field, `give the ${what} as PEM, a file path, or {keyVaultSecret: <name>}`);
    const secretName = reader.string(secretField);
    if (secretName === undefined) return undefined;
    if (!KEY_VAULT_SECRET.test(secretName))
      return reader.fail(secretField, `"${secretName}" is not a Key Vault secret name (letters, digits, -)`);
    return { kind: "keyVault", secretName };
  }
  const pem = readPem(reader, field, what, options);
  if (pem === undefined) return undefined;
  try {
    if (what === "cosign key") cosignKeyFromPem(pem);
    else notationCertFromPem(pem);
  } catch (err) {
    return reader.fail(
      field,
      `not a usable ${what}: ${(err instanceof Error ? err.message : String(err)).slice(0, 120)}`,
    );
  }
  return { kind: "pem", pem };
}

function readVerify(reader: YamlReader, field: Field, options: PathOptions): VerifyPolicy | false | undefined {
  if (isScalar(field.node) && typeof field.node.value === "boolean") {
    const on = reader.bool(field);
    if (on === undefined) return undefined;
    return on ? reader.fail(field, "verify: true needs a key; give {cosignKey: …} or {notationCert: …}") : false;
  }
  const fields = reader.map(field, VERIFY_KEYS);
  if (!fields) return undefined;
  const requireField = fields.get("require");
  if (requireField) {
    const require = reader.string(requireField);
    if (require === undefined) return undefined;
    if (require !== "signed")
      return reader.fail(requireField, `require: "${require.slice(0, 40)}" is unknown; use signed`);
  }
  const cosignField = fields.get("cosignKey");
  const notationField = fields.get("notationCert");
  if (!cosignField && !notationField) return reader.fail(field, "give cosignKey, notationCert, or both");
  const cosignKey = cosignField && readTrust(reader, cosignField, "cosign key", options);
  const notationCert = notationField && readTrust(reader, notationField, "notation certificate", options);
  if ((cosignField && !cosignKey) || (notationField && !notationCert)) return undefined;
  return { require: "signed", ...(cosignKey ? { cosignKey } : {}), ...(notationCert ? { notationCert } : {}) };
}

/** The entry's `referrers` and `verify`, each inherited from `base` unless set here (`false` turns one off). */
export function readSupplyOverrides(
  reader: YamlReader,
  fields: Map<string, Field>,
  base: Pick<SyncDefaults, "referrers" | "verify">,
  options: PathOptions,
): Pick<SyncDefaults, "referrers" | "verify"> | undefined {
  const referrersField = fields.get("referrers");
  const verifyField = fields.get("verify");
  const referrers = referrersField ? readReferrers(reader, referrersField) : base.referrers;
  const verify = verifyField ? readVerify(reader, verifyField, options) : base.verify;
  if ((referrersField && referrers === undefined) || (verifyField && verify === undefined)) return undefined;
  return { ...(referrers ? { referrers } : {}), ...(verify ? { verify } : {}) };
}
