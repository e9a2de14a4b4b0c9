// Checks of infra/ that need no Bicep CLI: every .bicep file parses with the tree-sitter-bicep grammar, and the
// project's lint rules keep the deployment's promises (test/infra/bicepLint.ts). The real compiler's checks are in
// compile.test.ts and compiled.test.ts.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { SETTINGS } from "../../shared/settings";
import { TABLES } from "../../shared/store/tables";
import {
  ALLOWED_ROLES,
  APP_SETTINGS,
  HOST_SETTINGS,
  type Finding,
  formatFinding,
  lintBicep,
  lintParametersJson,
  loadParser,
  missingAppSettings,
  modules,
  outputs,
  params,
  resources,
  roleAssignmentsIn,
  objectProperties,
  findProperties,
} from "./bicepLint";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const INFRA = join(ROOT, "infra");

function listFiles(dir: string, ext: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return listFiles(p, ext);
    return p.endsWith(ext) ? [p] : [];
  });
}

const rel = (p: string): string => relative(ROOT, p);
const read = (p: string): string => readFileSync(p, "utf8");
const bicepFiles = listFiles(INFRA, ".bicep");
const report = (findings: Finding[]): string => findings.map(formatFinding).join("\n");

async function tree(path: string) {
  const parser = await loadParser();
  return parser.parse(read(path)).rootNode;
}

describe("infra Bicep: syntax and lint", () => {
  it("has main.bicep, a parameters file and one module per concern", () => {
    const names = bicepFiles.map(rel).sort();
    expect(names).toContain("infra/main.bicep");
    for (const m of [
      "identity",
      "storage",
      "monitoring",
      "function",
      "keyvault",
      "acr",
      "acr-rbac",
      "rbac",
      "alerts",
    ]) {
      expect(names).toContain(`infra/modules/${m}.bicep`);
    }
    expect(existsSync(join(INFRA, "main.parameters.json"))).toBe(true);
  });

  it.each(bicepFiles.map((f) => [rel(f), f]))("%s parses and passes every lint rule", async (name, path) => {
    const findings = await lintBicep(name, read(path));
    expect(findings, report(findings)).toEqual([]);
  });

  it("main.parameters.json is valid, names only real params, sets every required one and holds no secrets", async () => {
    const file = join(INFRA, "main.parameters.json");
    const text = read(file);
    expect(lintParametersJson("infra/main.parameters.json", text)).toEqual([]);
    const json = JSON.parse(text) as { parameters: Record<string, { value: unknown }> };
    const declared = params(await tree(join(INFRA, "main.bicep")));
    const declaredNames = new Set(declared.map((p) => p.name));
    for (const key of Object.keys(json.parameters)) expect(declaredNames, `unknown param ${key}`).toContain(key);
    for (const p of declared.filter((d) => d.required)) {
      expect(Object.keys(json.parameters), `required param ${p.name} missing`).toContain(p.name);
    }
  });

  it("main.bicep targets a resource group and wires modules by their real params and outputs", async () => {
    const mainText = read(join(INFRA, "main.bicep"));
    expect(mainText).toMatch(/^targetScope = 'resourceGroup'$/m);
    const root = await tree(join(INFRA, "main.bicep"));
    const mods = modules(root);
    expect(mods.length).toBeGreaterThan(5);
    const outputsBySymbol = new Map<string, string[]>();
    for (const m of mods) {
      const modulePath = join(INFRA, m.path);
      expect(existsSync(modulePath), `module file ${m.path}`).toBe(true);
      const modRoot = await tree(modulePath);
      const declared = params(modRoot);
      const passed = [...objectProperties(objectProperties(m.body).get("params")).keys()];
      for (const p of passed) {
        expect(
          declared.map((d) => d.name),
          `${m.symbol} passes unknown param ${p}`,
        ).toContain(p);
      }
      for (const d of declared.filter((x) => x.required)) {
        expect(passed, `${m.symbol} does not pass required param ${d.name}`).toContain(d.name);
      }
      outputsBySymbol.set(m.symbol, outputs(modRoot));
    }
    for (const [, sym, out] of mainText.matchAll(/\b(\w+)\.outputs\.(\w+)/g)) {
      expect(outputsBySymbol.get(sym!) ?? [], `${sym}.outputs.${out}`).toContain(out);
    }
  });

  it("outputs the function app name and URL, the table endpoint and the identity ids", async () => {
    const outs = outputs(await tree(join(INFRA, "main.bicep")));
    for (const o of [
      "functionAppName",
      "functionAppUrl",
      "tablesEndpoint",
      "identityClientId",
      "identityPrincipalId",
    ]) {
      expect(outs).toContain(o);
    }
  });

  it("the function module sets every app setting the app and host read", async () => {
    const missing = await missingAppSettings(read(join(INFRA, "modules/function.bicep")), [
      ...APP_SETTINGS,
      ...HOST_SETTINGS,
    ]);
    expect(missing).toEqual([]);
    const fn = read(join(INFRA, "modules/function.bicep"));
    expect(fn).toContain("AzureWebJobsStorage__credential: 'managedidentity'");
    expect(fn).toContain("APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'");
    expect(fn).toContain("AZURE_CLIENT_ID: identityClientId");
  });

  it("main.bicep defaults match the app's documented defaults", async () => {
    const declared = new Map(params(await tree(join(INFRA, "main.bicep"))).map((p) => [p.name, p]));
    const dflt = (name: string): string | undefined => declared.get(name)?.defaultValue?.text;
    expect(dflt("syncConfig")).toBe("'sync.yaml'");
    expect(dflt("syncSchedule")).toBe("'0 0 * * * *'");
    expect(dflt("syncMode")).toBe("'inline'");
    expect(dflt("verifyTargetEvery")).toBe("6");
    expect(dflt("traceService")).toBe("'aro-hcp'");
    expect(dflt("traceConfigSource")).toBe("'https://raw.githubusercontent.com/Azure/ARO-HCP/{commit}/{path}'");
    expect(dflt("enableRetention")).toBe("false");
    expect(dflt("enableImport")).toBe("false");
    // The ACR settings' defaults (shared/settings.ts SETTINGS) and the params that feed them.
    const appDefault = (name: string) => SETTINGS.find((x) => x.name === name)?.default;
    expect(dflt("copyMode")).toBe(`'${appDefault("COPY_MODE")}'`);
    expect(dflt("importTimeoutSeconds")).toBe(appDefault("IMPORT_TIMEOUT_SECONDS"));
    expect(dflt("acrBulkListing")).toBe(appDefault("ACR_BULK_LISTING"));
    expect(dflt("lockImages")).toBe(appDefault("LOCK_IMAGES"));
    expect(dflt("retentionDays")).toBe(appDefault("RETENTION_DAYS"));
    // The timer's budget leaves a margin under host.json's functionTimeout: at least 5 minutes to copy what was
    // started and record the run.
    expect(dflt("syncBudgetSeconds")).toBe(appDefault("SYNC_BUDGET_SECONDS"));
    const host = JSON.parse(read(join(ROOT, "host.json"))) as { functionTimeout: string };
    const [h, m, s] = host.functionTimeout.split(":").map(Number);
    const timeoutSeconds = h! * 3600 + m! * 60 + s!;
    expect(Number(appDefault("SYNC_BUDGET_SECONDS"))).toBeLessThanOrEqual(timeoutSeconds - 300);
    expect(dflt("retentionKeep")).toBe(appDefault("RETENTION_KEEP"));
    expect(dflt("retentionDeleteUntagged")).toBe(appDefault("RETENTION_DELETE_UNTAGGED"));
    expect(read(join(INFRA, "main.bicep"))).toContain("var copyQueueName = 'copy-image'");
  });

  it("sets the ACR settings from the registry's coordinates, and deletes or imports only behind their role flags", () => {
    const main = read(join(INFRA, "main.bicep"));
    expect(main).toContain("acrSubscriptionId: effectiveRegistrySubscription");
    expect(main).toContain("acrResourceGroup: effectiveRegistryResourceGroup");
    expect(main).toContain("acrRegistryName: registryName");
    expect(main).toContain("var retentionMode = enableRetention ? 'delete' : 'report'");
    expect(main).toContain("var effectiveCopyMode = enableImport ? copyMode : 'stream'");
    const fn = read(join(INFRA, "modules/function.bicep"));
    expect(fn).toContain("RETENTION_MODE: retentionMode");
    expect(fn).toContain("COPY_MODE: copyMode");
    expect(fn).toContain("ACR_SUBSCRIPTION_ID: acrSubscriptionId");
  });

  it("grants every required role to the app identity, and the optional ones only behind their flag", async () => {
    const found = new Map<string, string | undefined>();
    for (const f of bicepFiles) {
      for (const a of await roleAssignmentsIn(read(f))) found.set(a.guid, a.condition);
    }
    for (const [guid, role] of Object.entries(ALLOWED_ROLES)) {
      expect(found.has(guid), `${role.name} is never assigned`).toBe(true);
      if (role.gate) expect(found.get(guid)).toContain(role.gate);
      else expect(found.get(guid)).toBeUndefined();
    }
  });

  it("creates the tables and queues the app uses", () => {
    const storage = read(join(INFRA, "modules/storage.bicep"));
    for (const t of ["SyncRuns", "SyncResults", "ImageStatus", "Traces", "Labels", "RunLock", "RegistryLimits"]) {
      expect(storage).toContain(`'${t}'`);
    }
    // Every table the store declares (shared/store/tables.ts TABLES), Retention included.
    for (const t of Object.values(TABLES)) expect(storage, `table ${t}`).toContain(`'${t}'`);
    expect(storage).toContain("'${copyQueueName}-poison'");
    expect(storage).toMatch(/param copyQueueName string = 'copy-image'/);
  });

  it("alerts with log queries on timer runs: outdated images, missed runs, poisoned copies, stale bases", async () => {
    const root = await tree(join(INFRA, "modules/alerts.bicep"));
    const rs = resources(root);
    expect(rs.find((r) => r.type === "Microsoft.Insights/metricAlerts")).toBeUndefined();
    const log = rs.find((r) => r.type === "Microsoft.Insights/scheduledQueryRules");
    expect(log).toBeTruthy();
    expect(findProperties(log!.body!, "autoMitigate").map((n) => n.text)).toEqual(["true"]);
    const text = read(join(INFRA, "modules/alerts.bicep"));
    for (const metric of ['"outdated_images"', '"outdated_before_sync"', '"sync_runs"', '"stale_images"']) {
      expect(text).toContain(`name == ${metric}`);
    }
    expect(text).toContain(`tostring(customDimensions.trigger) == "timer"`);
    expect(text).toContain("type: 'SystemAssigned'");
  });
});

describe("settings drift between the app and the infra", () => {
  const LOCAL_ONLY = new Set([
    "FUNCTIONS_WORKER_RUNTIME",
    "AzureWebJobsStorage",
    "DOCKER_CONFIG",
    ...SETTINGS.filter((s) => s.localOnly).map((s) => s.name),
  ]);

  it("every setting in local.settings.sample.json is set by the function module", async () => {
    const sample = join(ROOT, "local.settings.sample.json");
    if (!existsSync(sample)) return;
    const values = (JSON.parse(read(sample)) as { Values?: Record<string, string> }).Values ?? {};
    const names = Object.keys(values).filter(
      (n) => !LOCAL_ONLY.has(n) && !(/CONNECTION_STRING$/.test(n) && !n.startsWith("APPLICATIONINSIGHTS_")),
    );
    const missing = await missingAppSettings(read(join(INFRA, "modules/function.bicep")), names);
    expect(missing, "set these in infra/modules/function.bicep (or list them as local-only here)").toEqual([]);
  });

  it("every app setting the infra sets is one the settings module declares (or a host setting)", () => {
    const text = read(join(INFRA, "modules/function.bicep"));
    const block = text.slice(text.indexOf("resource appSettings"));
    const props = block.slice(block.indexOf("properties: {"), block.indexOf("\n}\n"));
    const set = [...props.matchAll(/^\s{4}([A-Za-z_][A-Za-z0-9_]*):/gm)].map((m) => m[1]!);
    expect(set.length).toBeGreaterThan(10);
    const known = new Set<string>([...SETTINGS.map((s) => s.name), ...HOST_SETTINGS]);
    const unknown = set.filter((n) => !known.has(n) && !n.startsWith("AzureWebJobsStorage__"));
    expect(unknown, "renamed in the app? declare it in shared/settings.ts SETTINGS").toEqual([]);
  });
});

describe("the checker itself", () => {
  it("reports syntax errors with file and line", async () => {
    const broken = [
      "param ok string",
      "",
      "resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {",
      "  name: 'x'",
      "  properties: {",
      "    allowSharedKeyAccess: false",
      "  ",
      "output o string = ",
    ].join("\n");
    const findings = (await lintBicep("broken.bicep", broken)).filter((f) => f.rule === "syntax");
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((f) => f.file === "broken.bicep" && f.line >= 3)).toBe(true);
    expect(formatFinding(findings[0]!)).toMatch(/^broken\.bicep:\d+ \[syntax\]/);
  });

  it("catches each broken promise in a snippet that parses", async () => {
    const bad = `
param principalId string
@description('no @secure')
param alertWebhookUrl string = 'https://hooks.example.com/x'
var someRole = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
var acrDelete = 'c2f4ef07-c644-48eb-af81-4b1b4947fb11'
module m 'br/public:avm/res/web/site:0.1.0' = {
  name: 'm'
}
resource sa 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'x'
  properties: {
    allowSharedKeyAccess: true
    minimumTlsVersion: 'TLS1_0'
  }
}
resource ai 'Microsoft.Insights/components@2020-02-02' = {
  name: 'ai'
  properties: {
    DisableLocalAuth: false
  }
}
resource kv 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'kv'
  properties: {
    enableRbacAuthorization: false
  }
}
resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: kv
  name: 'pull'
  properties: {
    value: 'AccountName=x;AccountKey=abc'
  }
}
resource ra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: 'fixed-name'
  properties: {
    principalId: principalId
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', someRole)
  }
}
resource ra2 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(sa.id, acrDelete)
  scope: sa
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrDelete)
  }
}
resource alert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'a'
  properties: {
    evaluationFrequency: 'PT5M'
    criteria: {
      allOf: [
        {
          metricName: 'outdated_images'
          skipMetricValidation: false
        }
      ]
    }
  }
}
resource q 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'q'
}
resource app 'Microsoft.Web/sites/config@2024-04-01' = {
  name: 'appsettings'
  properties: {
    FUNCTIONS_WORKER_RUNTIME: 'node'
  }
}
`;
    const findings = await lintBicep("bad.bicep", bad);
    const text = report(findings);
    expect(
      findings.filter((f) => f.rule === "syntax"),
      text,
    ).toEqual([]);
    const expectFinding = (rule: string, pattern: RegExp): void => {
      expect(
        findings.some((f) => f.rule === rule && pattern.test(f.message)),
        `${rule} ${pattern}\n${text}`,
      ).toBe(true);
    };
    expectFinding("no-registry-modules", /br\/public/);
    expectFinding("storage", /allowSharedKeyAccess/);
    expectFinding("storage", /minimumTlsVersion/);
    expectFinding("app-insights", /DisableLocalAuth/);
    expectFinding("key-vault", /enableRbacAuthorization/);
    expectFinding("key-vault", /enablePurgeProtection/);
    expectFinding("key-vault", /never created/);
    expectFinding("secrets", /account key/);
    expectFinding("secrets", /@secure/);
    expectFinding("secrets", /default value/);
    expectFinding("role-assignment", /ra: principalType/);
    expectFinding("role-assignment", /ra: name must be a deterministic guid/);
    expectFinding("role-assignment", /ra: scope/);
    expectFinding("role-assignment", /acdd72a7-3385-48ef-bd42-f606fba81ae7 is not in the allow-list/);
    expectFinding("role-assignment", /ra2: AcrDelete must be conditional on enableRetention/);
    expectFinding("metric-alert", /skipMetricValidation/);
    expectFinding("metric-alert", /autoMitigate/);
    expectFinding("metric-alert", /PT15M/);
    expectFinding("api-version", /2023-03-15-preview/);
    expectFinding("flex-settings", /FUNCTIONS_WORKER_RUNTIME/);
  });

  it("notices an app setting dropped from the function module", async () => {
    const fn = read(join(INFRA, "modules/function.bicep"));
    const dropped = fn.replace(/^\s*KEYVAULT_URI: .*$/m, "");
    expect(dropped).not.toEqual(fn);
    expect(await missingAppSettings(dropped, APP_SETTINGS)).toEqual(["KEYVAULT_URI"]);
  });

  it("flags secret-looking values in a parameters file", () => {
    const json = '{ "parameters": { "x": { "value": "https://user:p4ss@example.com/hook" } } }';
    expect(lintParametersJson("p.json", json).map((f) => f.rule)).toEqual(["secrets"]);
  });
});
