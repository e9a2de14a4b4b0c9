// The project's own Bicep rules: a tree-sitter syntax check plus lint rules over the tree that keep the infra's
// promises (least-privilege roles, no shared keys, Flex-safe settings, secrets). They run without any Bicep CLI;
// types, schemas and API versions are the real compiler's job (compile.test.ts, compiled.test.ts).
import { SETTINGS } from "../../shared/settings";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import Parser from "web-tree-sitter";

export type Node = Parser.SyntaxNode;

export interface Finding {
  file: string;
  line: number;
  rule: string;
  message: string;
}

export const formatFinding = (f: Finding): string => `${f.file}:${f.line} [${f.rule}] ${f.message}`;

// ---------------------------------------------------------------------------------------------------------------
// Contracts

/** Built-in role definitions the infra may grant, with the bool param that must gate the optional ones. */
export const ALLOWED_ROLES: Record<string, { name: string; gate?: string }> = {
  "8311e382-0749-4cb8-b61a-304f252e45ec": { name: "AcrPush" },
  "c2f4ef07-c644-48eb-af81-4b1b4947fb11": { name: "AcrDelete", gate: "enableRetention" },
  "577a9874-89fd-4f24-9dbd-b5034d0ad23a": {
    name: "Container Registry Data Importer and Data Reader",
    gate: "enableImport",
  },
  "4633458b-17de-408a-b874-0445c86b69e6": { name: "Key Vault Secrets User" },
  "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": { name: "Storage Blob Data Owner" },
  "974c5e8b-45b9-4653-ba55-5f855dd0fb88": { name: "Storage Queue Data Contributor" },
  "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": { name: "Storage Table Data Contributor" },
  "3913510d-42f4-4e42-8a64-420c390055eb": { name: "Monitoring Metrics Publisher" },
  // Not the app's: each log alert rule's own identity reads the Application Insights component it queries.
  "43d0d8ad-25c7-4714-9337-8ba259a9fe05": { name: "Monitoring Reader" },
};

/** App settings the app and the Functions host read; names are a contract with shared/settings.ts and functions/. */
/** Every setting the app reads in Azure, from the settings module itself (the contract). */
export const APP_SETTINGS: readonly string[] = SETTINGS.filter(
  (s) => !s.localOnly && !s.name.startsWith("APPLICATIONINSIGHTS_"),
).map((s) => s.name);

export const HOST_SETTINGS = [
  "APPLICATIONINSIGHTS_CONNECTION_STRING",
  "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
  "AzureWebJobsStorage__accountName",
  "AzureWebJobsStorage__credential",
  "AzureWebJobsStorage__clientId",
] as const;

/** Settings Flex Consumption rejects or ignores (runtime lives in functionAppConfig; no content share). */
export const FLEX_FORBIDDEN_SETTINGS = [
  "FUNCTIONS_WORKER_RUNTIME",
  "FUNCTIONS_EXTENSION_VERSION",
  "WEBSITE_RUN_FROM_PACKAGE",
  "WEBSITE_NODE_DEFAULT_VERSION",
  "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
  "WEBSITE_CONTENTSHARE",
  "AzureWebJobsStorage",
];

const GUID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/AccountKey=/i, "storage account key"],
  [/SharedAccessKey=|SharedAccessSignature=/i, "shared access key"],
  [/[?&]sig=[A-Za-z0-9%]/, "SAS signature"],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "private key"],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/, "JWT"],
  [/InstrumentationKey=[0-9a-f]{8}-/i, "hard-coded App Insights key"],
  [/\b(?:ghp|gho|ghs|github_pat)_[A-Za-z0-9_]{20,}/, "GitHub token"],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/, "Slack token"],
  [/[a-z][a-z0-9+.-]*:\/\/[^/\s:@'"]+:[^/\s@'"]+@/i, "credentials in a URL"],
  [/"(?:auth|password|identitytoken)"\s*:/i, "Docker config credentials"],
];

/** A run of 40+ base64 characters mixing digits, upper and lower case: an account key, token or password. */
function looksLikeBase64Secret(text: string): boolean {
  for (const m of text.matchAll(/[A-Za-z0-9+/]{40,}={0,2}/g)) {
    const run = m[0];
    if (/[0-9]/.test(run) && /[A-Z]/.test(run) && /[a-z]/.test(run)) return true;
  }
  return false;
}

/** What kind of secret `text` looks like, or undefined. */
export function secretKind(text: string): string | undefined {
  for (const [re, what] of SECRET_PATTERNS) if (re.test(text)) return what;
  return looksLikeBase64Secret(text) ? "long base64 blob" : undefined;
}

/** Param names that carry secrets: they must be @secure() and must not default to a value. */
const SECRET_PARAM_RE = /password|secret|token|webhook|apikey|accesskey/i;

// ---------------------------------------------------------------------------------------------------------------
// Parser

let parserPromise: Promise<Parser> | undefined;

/** One shared parser loaded with the tree-sitter-bicep WASM grammar (no native build, no network). */
export function loadParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    await Parser.init();
    const require = createRequire(import.meta.url);
    const wasm = require.resolve("tree-sitter-bicep/tree-sitter-bicep.wasm");
    const language = await Parser.Language.load(readFileSync(wasm));
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  return parserPromise;
}

// ---------------------------------------------------------------------------------------------------------------
// Tree helpers

const line = (n: Node): number => n.startPosition.row + 1;

function* walk(n: Node): Generator<Node> {
  yield n;
  for (const c of n.children) yield* walk(c);
}

/** The text of a plain string literal ('abc'), or undefined if it is not a string or is interpolated. */
export function stringValue(n: Node | undefined): string | undefined {
  if (!n || n.type !== "string") return undefined;
  if (n.namedChildren.some((c) => c.type !== "string_content" && c.type !== "escape_sequence")) return undefined;
  return n.text.replace(/^'''|'''$/g, "").replace(/^'|'$/g, "");
}

/** Key of an object_property: identifier or quoted string. */
function propertyKey(p: Node): string | undefined {
  const k = p.namedChildren[0];
  if (!k) return undefined;
  return k.type === "string" ? stringValue(k) : k.text;
}

/** Direct properties of an object node, key → value node. */
export function objectProperties(obj: Node | undefined | null): Map<string, Node> {
  const out = new Map<string, Node>();
  if (!obj || obj.type !== "object") return out;
  for (const p of obj.namedChildren) {
    if (p.type !== "object_property") continue;
    const key = propertyKey(p);
    const value = p.namedChildren[p.namedChildren.length - 1];
    if (key !== undefined && value && value !== p.namedChildren[0]) out.set(key, value);
  }
  return out;
}

/** Every value of a property named `key` anywhere below `n`. */
export function findProperties(n: Node, key: string): Node[] {
  const out: Node[] = [];
  for (const d of walk(n)) {
    if (d.type === "object_property" && propertyKey(d) === key) {
      const v = d.namedChildren[d.namedChildren.length - 1];
      if (v) out.push(v);
    }
  }
  return out;
}

export interface ResourceDecl {
  symbol: string;
  type: string;
  apiVersion: string;
  existing: boolean;
  /** Text of the `if (...)` condition, when conditional. */
  condition?: string;
  body?: Node;
  node: Node;
}

/** The object body of a resource/module declaration, looking through `if (...)` and `[for ...]`. */
function declarationBody(decl: Node): { body?: Node; condition?: string } {
  for (const c of decl.namedChildren) {
    if (c.type === "object") return { body: c };
    if (c.type === "if_statement") {
      const cond = c.namedChildren.find((x) => x.type === "parenthesized_expression")?.text;
      const body = c.namedChildren.find((x) => x.type === "object");
      return { body, condition: cond };
    }
    if (c.type === "for_statement") {
      const body = c.childForFieldName("body") ?? c.namedChildren.find((x) => x.type === "object");
      if (body?.type === "object") return { body };
      const inner = body?.type === "if_statement" ? body.namedChildren.find((x) => x.type === "object") : undefined;
      return { body: inner };
    }
  }
  return {};
}

export function resources(root: Node): ResourceDecl[] {
  return root.descendantsOfType("resource_declaration").map((node) => {
    const typeNode = node.namedChildren.find((c) => c.type === "string");
    const full = stringValue(typeNode) ?? "";
    const [type = "", apiVersion = ""] = full.split("@");
    const { body, condition } = declarationBody(node);
    return {
      symbol: node.namedChildren[0]?.text ?? "",
      type,
      apiVersion,
      existing: node.children.some((c) => c.type === "existing"),
      condition,
      body,
      node,
    };
  });
}

export interface ModuleDecl {
  symbol: string;
  path: string;
  body?: Node;
  node: Node;
}

export function modules(root: Node): ModuleDecl[] {
  return root.descendantsOfType("module_declaration").map((node) => ({
    symbol: node.namedChildren[0]?.text ?? "",
    path: stringValue(node.namedChildren.find((c) => c.type === "string")) ?? "",
    body: declarationBody(node).body,
    node,
  }));
}

export interface ParamDecl {
  name: string;
  required: boolean;
  secure: boolean;
  defaultValue?: Node;
  node: Node;
}

export function params(root: Node): ParamDecl[] {
  return root.descendantsOfType("parameter_declaration").map((node) => {
    const named = node.namedChildren;
    const typeIdx = named.findIndex((c) => c.type === "type");
    const defaultValue = typeIdx >= 0 ? named[typeIdx + 1] : undefined;
    const decorators = node.previousNamedSibling?.type === "decorators" ? node.previousNamedSibling.text : "";
    return {
      name: named[0]?.text ?? "",
      required: defaultValue === undefined && !(named[typeIdx]?.text.endsWith("?") ?? false),
      secure: /@secure\(\)/.test(decorators),
      defaultValue,
      node,
    };
  });
}

export function outputs(root: Node): string[] {
  return root.descendantsOfType("output_declaration").map((n) => n.namedChildren[0]?.text ?? "");
}

function variables(root: Node): Map<string, Node> {
  const out = new Map<string, Node>();
  for (const v of root.descendantsOfType("variable_declaration")) {
    const name = v.namedChildren[0]?.text;
    const value = v.namedChildren[v.namedChildren.length - 1];
    if (name && value) out.set(name, value);
  }
  return out;
}

/** GUIDs in an expression, following variable references in the same file. Params are unresolvable. */
function resolveGuids(expr: Node, vars: Map<string, Node>, depth = 0): { guids: string[]; unresolved: string[] } {
  const guids = [...expr.text.matchAll(GUID_RE)].map((m) => m[0].toLowerCase());
  const unresolved: string[] = [];
  if (depth > 5) return { guids, unresolved };
  for (const id of walk(expr)) {
    if (id.type !== "identifier") continue;
    const parent = id.parent;
    // skip function names such as subscriptionResourceId(...) and member names
    if (parent?.type === "call_expression" && parent.childForFieldName("function")?.id === id.id) continue;
    const v = vars.get(id.text);
    if (v) {
      const r = resolveGuids(v, vars, depth + 1);
      guids.push(...r.guids);
      unresolved.push(...r.unresolved);
    } else {
      unresolved.push(id.text);
    }
  }
  return { guids, unresolved };
}

// ---------------------------------------------------------------------------------------------------------------
// Rules

export function syntaxFindings(file: string, root: Node): Finding[] {
  const out: Finding[] = [];
  for (const n of walk(root)) {
    if (n.type === "ERROR") {
      out.push({ file, line: line(n), rule: "syntax", message: `syntax error near '${n.text.slice(0, 40)}'` });
    } else if (n.isMissing) {
      out.push({ file, line: line(n), rule: "syntax", message: `missing '${n.type}'` });
    }
  }
  return out;
}

const isTrue = (n: Node | undefined): boolean => n?.type === "boolean" && n.text === "true";
const isFalse = (n: Node | undefined): boolean => n?.type === "boolean" && n.text === "false";

/** Parse and lint one Bicep source. `file` is only used in messages. */
export async function lintBicep(file: string, source: string): Promise<Finding[]> {
  const parser = await loadParser();
  const tree = parser.parse(source);
  const root = tree.rootNode;
  const out: Finding[] = syntaxFindings(file, root);
  const add = (n: Node, rule: string, message: string): void => {
    out.push({ file, line: line(n), rule, message });
  };
  const vars = variables(root);

  // No registry modules: every module is a local file.
  for (const m of modules(root)) {
    if (!/^\.{0,2}\/?[\w./-]+\.bicep$/.test(m.path) || m.path.includes(":")) {
      add(m.node, "no-registry-modules", `module '${m.path}' is not a local .bicep file`);
    }
  }
  for (const n of walk(root)) {
    if (n.type === "string" && /\b(?:br|ts)(?:\/public)?:/.test(n.text)) {
      add(n, "no-registry-modules", `registry reference ${n.text}`);
    }
  }

  // Flex: runtime lives in functionAppConfig; these settings must not appear (comments are fine).
  for (const n of walk(root)) {
    if (n.type === "comment") continue;
    const isKey = n.parent?.type === "object_property" && n.parent.namedChildren[0]?.id === n.id;
    const candidate = isKey
      ? n.type === "string"
        ? stringValue(n)
        : n.text
      : n.type === "string_content"
        ? n.text
        : undefined;
    if (candidate !== undefined && FLEX_FORBIDDEN_SETTINGS.includes(candidate)) {
      add(n, "flex-settings", `${candidate} must not be set on Flex Consumption`);
    }
  }

  for (const r of resources(root)) {
    const props = objectProperties(r.body);
    const inner = objectProperties(props.get("properties"));

    // Diagnostic settings have no GA API version with categoryGroup (allLogs); 2021-05-01-preview is the current one.
    const previewAllowed = r.type === "Microsoft.Insights/diagnosticSettings" && r.apiVersion === "2021-05-01-preview";
    if (!/^\d{4}-\d{2}-\d{2}$/.test(r.apiVersion) && !previewAllowed) {
      add(r.node, "api-version", `${r.type} uses '${r.apiVersion}': use a GA API version`);
    }
    if (r.existing) continue;

    switch (r.type.toLowerCase()) {
      case "microsoft.authorization/roleassignments": {
        if (stringValue(inner.get("principalType")) !== "ServicePrincipal") {
          add(r.node, "role-assignment", `${r.symbol}: principalType must be 'ServicePrincipal'`);
        }
        const name = props.get("name");
        if (!name || name.type !== "call_expression" || name.childForFieldName("function")?.text !== "guid") {
          add(r.node, "role-assignment", `${r.symbol}: name must be a deterministic guid(...)`);
        }
        const scope = props.get("scope");
        if (!scope || scope.type !== "identifier") {
          add(r.node, "role-assignment", `${r.symbol}: scope must be a single resource (narrowest scope)`);
        }
        const roleDef = inner.get("roleDefinitionId");
        if (!roleDef) {
          add(r.node, "role-assignment", `${r.symbol}: roleDefinitionId missing`);
          break;
        }
        const { guids, unresolved } = resolveGuids(roleDef, vars);
        if (guids.length !== 1) {
          add(
            r.node,
            "role-assignment",
            `${r.symbol}: roleDefinitionId must resolve to one literal role GUID in this file`,
          );
        }
        if (unresolved.length > 0) {
          add(r.node, "role-assignment", `${r.symbol}: roleDefinitionId depends on ${unresolved.join(", ")}`);
        }
        for (const g of guids) {
          const role = ALLOWED_ROLES[g];
          if (!role) {
            add(r.node, "role-assignment", `${r.symbol}: role ${g} is not in the allow-list`);
          } else if (role.gate && !(r.condition ?? "").includes(role.gate)) {
            add(r.node, "role-assignment", `${r.symbol}: ${role.name} must be conditional on ${role.gate}`);
          }
        }
        break;
      }
      case "microsoft.insights/metricalerts": {
        const criteria = findProperties(r.body ?? r.node, "metricName");
        const skips = findProperties(r.body ?? r.node, "skipMetricValidation");
        if (criteria.length === 0 || skips.length !== criteria.length || !skips.every(isTrue)) {
          add(r.node, "metric-alert", `${r.symbol}: every criterion needs skipMetricValidation: true`);
        }
        if (!isTrue(inner.get("autoMitigate"))) add(r.node, "metric-alert", `${r.symbol}: autoMitigate must be true`);
        if (stringValue(inner.get("evaluationFrequency")) !== "PT15M") {
          add(r.node, "metric-alert", `${r.symbol}: evaluationFrequency must be PT15M`);
        }
        break;
      }
      case "microsoft.storage/storageaccounts": {
        if (!isFalse(inner.get("allowSharedKeyAccess"))) {
          add(r.node, "storage", `${r.symbol}: allowSharedKeyAccess must be false`);
        }
        if (stringValue(inner.get("minimumTlsVersion")) !== "TLS1_2") {
          add(r.node, "storage", `${r.symbol}: minimumTlsVersion must be 'TLS1_2'`);
        }
        if (!isTrue(inner.get("supportsHttpsTrafficOnly"))) {
          add(r.node, "storage", `${r.symbol}: supportsHttpsTrafficOnly must be true`);
        }
        if (!isFalse(inner.get("allowBlobPublicAccess"))) {
          add(r.node, "storage", `${r.symbol}: allowBlobPublicAccess must be false`);
        }
        break;
      }
      case "microsoft.insights/components": {
        if (!isTrue(inner.get("DisableLocalAuth"))) {
          add(r.node, "app-insights", `${r.symbol}: DisableLocalAuth must be true`);
        }
        break;
      }
      case "microsoft.keyvault/vaults": {
        if (!isTrue(inner.get("enableRbacAuthorization"))) {
          add(r.node, "key-vault", `${r.symbol}: enableRbacAuthorization must be true`);
        }
        if (!isTrue(inner.get("enablePurgeProtection"))) {
          add(r.node, "key-vault", `${r.symbol}: enablePurgeProtection must be true`);
        }
        if (inner.has("accessPolicies")) add(r.node, "key-vault", `${r.symbol}: no access policies in RBAC mode`);
        break;
      }
      case "microsoft.keyvault/vaults/secrets": {
        add(r.node, "key-vault", `${r.symbol}: secret values are never created in Bicep`);
        break;
      }
      case "microsoft.web/serverfarms": {
        const sku = objectProperties(props.get("sku"));
        if (stringValue(sku.get("name")) !== "FC1") add(r.node, "function-app", `${r.symbol}: plan must be FC1`);
        break;
      }
      case "microsoft.web/sites": {
        if (!isTrue(inner.get("httpsOnly"))) add(r.node, "function-app", `${r.symbol}: httpsOnly must be true`);
        const runtime = objectProperties(objectProperties(inner.get("functionAppConfig")).get("runtime"));
        if (stringValue(runtime.get("name")) !== "node" || stringValue(runtime.get("version")) !== "22") {
          add(r.node, "function-app", `${r.symbol}: functionAppConfig.runtime must be node 22`);
        }
        break;
      }
    }
  }

  // Secret-carrying params are @secure() and have no real default.
  for (const p of params(root)) {
    if (!SECRET_PARAM_RE.test(p.name)) continue;
    if (!p.secure) add(p.node, "secrets", `param ${p.name} looks secret: mark it @secure()`);
    if (p.defaultValue && stringValue(p.defaultValue) !== "") {
      add(p.node, "secrets", `param ${p.name} looks secret: it must not have a default value`);
    }
  }
  // No secret-looking literals.
  for (const n of walk(root)) {
    if (n.type !== "string_content") continue;
    const what = secretKind(n.text);
    if (what) add(n, "secrets", `string looks like a ${what}`);
  }

  tree.delete();
  return out;
}

/** Secret-looking values in a JSON parameters file. */
export function lintParametersJson(file: string, source: string): Finding[] {
  const out: Finding[] = [];
  source.split("\n").forEach((text, i) => {
    const what = secretKind(text);
    if (what) out.push({ file, line: i + 1, rule: "secrets", message: `value looks like a ${what}` });
  });
  return out;
}

/** App setting names set by the `Microsoft.Web/sites/config` 'appsettings' resource(s) in a Bicep source. */
export async function appSettingNames(source: string): Promise<Set<string>> {
  const parser = await loadParser();
  const tree = parser.parse(source);
  const names = new Set<string>();
  for (const r of resources(tree.rootNode)) {
    if (r.type !== "Microsoft.Web/sites/config" || r.existing) continue;
    const props = objectProperties(r.body);
    if (stringValue(props.get("name")) !== "appsettings") continue;
    for (const key of objectProperties(props.get("properties")).keys()) names.add(key);
  }
  // siteConfig.appSettings: [{ name: '...', value: ... }] form, if used
  for (const list of findProperties(tree.rootNode, "appSettings")) {
    for (const item of list.namedChildren) {
      const n = stringValue(objectProperties(item).get("name"));
      if (n) names.add(n);
    }
  }
  tree.delete();
  return names;
}

/** Settings in `required` that `source` does not set. */
export async function missingAppSettings(source: string, required: readonly string[]): Promise<string[]> {
  const set = await appSettingNames(source);
  return required.filter((s) => !set.has(s));
}

/** Role definition GUIDs assigned in a Bicep source, each with the `if (...)` condition of its assignment. */
export async function roleAssignmentsIn(
  source: string,
): Promise<Array<{ symbol: string; guid: string; condition?: string }>> {
  const parser = await loadParser();
  const tree = parser.parse(source);
  const vars = variables(tree.rootNode);
  const out: Array<{ symbol: string; guid: string; condition?: string }> = [];
  for (const r of resources(tree.rootNode)) {
    if (r.type !== "Microsoft.Authorization/roleAssignments" || r.existing) continue;
    const roleDef = objectProperties(objectProperties(r.body).get("properties")).get("roleDefinitionId");
    if (!roleDef) continue;
    for (const guid of resolveGuids(roleDef, vars).guids) out.push({ symbol: r.symbol, guid, condition: r.condition });
  }
  tree.delete();
  return out;
}
