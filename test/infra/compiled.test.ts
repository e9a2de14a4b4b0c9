// What the real Bicep compiler makes of infra/main.bicep: the compiled ARM JSON (`bicep build`) and the evaluated
// deployment for given parameters (`bicep snapshot`: ids, names, scopes and settings computed offline, exactly as
// ARM would). Skipped without a CLI (see compile.test.ts); CI has one.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SETTINGS } from "../../shared/settings";
import {
  SNAPSHOT_RESOURCE_GROUP,
  SNAPSHOT_SUBSCRIPTION,
  bicep,
  copyInfra,
  findBicep,
  limited,
  snapshot,
  type PredictedResource,
  type Snapshot,
} from "./bicepCli";
import { ALLOWED_ROLES, APP_SETTINGS, FLEX_FORBIDDEN_SETTINGS, HOST_SETTINGS } from "./bicepLint";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const INFRA = join(ROOT, "infra");
const cli = findBicep();

/**
 * Window sizes Azure Monitor accepts for a log search alert (scheduledQueryRules windowSize, the portal's
 * "aggregation granularity"): 5, 10, 15, 30 and 45 minutes, 1 to 6 hours, 1 and 2 days. docs/alerts.md cites the
 * sources. The evaluation frequency must not exceed the window.
 */
const LOG_ALERT_WINDOWS: Record<string, number> = {
  PT5M: 5,
  PT10M: 10,
  PT15M: 15,
  PT30M: 30,
  PT45M: 45,
  PT1H: 60,
  PT2H: 120,
  PT3H: 180,
  PT4H: 240,
  PT5H: 300,
  PT6H: 360,
  P1D: 1440,
  P2D: 2880,
};

const required = { registryName: "myimagesyncacr", authClientId: "11111111-2222-3333-4444-555555555555" };
const OTHER_SUBSCRIPTION = "00000000-0000-0000-0000-00000000bbbb";
const WEBHOOK = "https://hooks.example.com/services/T0/B0/not-a-real-token-but-secret-shaped";

const byType = (s: Snapshot, type: string): PredictedResource[] =>
  s.predictedResources.filter((r) => r.type.toLowerCase() === type.toLowerCase());
const roleGuid = (r: PredictedResource): string =>
  String(r.properties?.roleDefinitionId).split("/").pop()!.toLowerCase();
/** The resource a role assignment is scoped to: its id up to `/providers/Microsoft.Authorization/`. */
const scopeOf = (r: PredictedResource): string => r.id.slice(0, r.id.indexOf("/providers/Microsoft.Authorization/"));
const rgId = (sub: string, rg: string): string => `/subscriptions/${sub}/resourceGroups/${rg}`;

describe.skipIf(!cli)("compiled ARM JSON and evaluated deployments (bicep build, bicep snapshot)", () => {
  let copy: ReturnType<typeof copyInfra>;
  let template: {
    parameters: Record<string, { type: string; allowedValues?: unknown[]; defaultValue?: unknown }>;
    outputs: Record<string, { type: string; value: unknown }>;
  };
  let base: Snapshot;
  let withRoles: Snapshot;
  let crossSub: Snapshot;
  let created: Snapshot;
  let oddName: Snapshot;
  let seeded: Snapshot;
  let withWebhook: Snapshot;
  let privateNet: Snapshot;
  let intervals: number[];
  let byInterval: Snapshot[];
  let byIntervalInline: Snapshot[];

  beforeAll(async () => {
    copy = copyInfra(INFRA);
    const build = await bicep(cli!, ["build", "main.bicep", "--outfile", "main.json"], copy.dir);
    expect(build.code, build.output).toBe(0);
    template = JSON.parse(readFileSync(join(copy.dir, "main.json"), "utf8")) as typeof template;
    intervals = (template.parameters.syncIntervalMinutes?.allowedValues ?? []) as number[];
    const snap = (name: string, params: Record<string, string | number | boolean>) => () =>
      snapshot(cli!, copy.dir, name, { ...required, ...params });
    const [a, b, c, d, e, f, g, h, ...rest] = await limited(3, [
      snap("base", {}),
      snap("roles", { enableRetention: true, enableImport: true }),
      snap("cross", { registrySubscriptionId: OTHER_SUBSCRIPTION, registryResourceGroupName: "rg-shared-acr" }),
      snap("created", {
        createRegistry: true,
        registrySubscriptionId: OTHER_SUBSCRIPTION,
        registryResourceGroupName: "rg-ignored",
      }),
      snap("odd", { baseName: "My_App-01" }),
      snap("seeded", { keyVaultNameSeed: "2", keyVaultCreateMode: "recover" }),
      snap("webhook", { alertWebhookUrl: WEBHOOK, alertEmail: "ops@example.com" }),
      snap("private", { enablePrivateNetworking: true, createRegistry: true }),
      // Every allowed interval in queue mode with base tracking on: all four rules and both window formulas.
      ...intervals.map((m) =>
        snap(`interval-${m}`, { syncIntervalMinutes: m, syncMode: "queue", basesConfig: "bases.yaml" }),
      ),
      // And in inline mode, where the outdated rule has its own window.
      ...intervals.map((m) => snap(`interval-inline-${m}`, { syncIntervalMinutes: m, syncMode: "inline" })),
    ]);
    [base, withRoles, crossSub, created, oddName, seeded, withWebhook, privateNet] = [a!, b!, c!, d!, e!, f!, g!, h!];
    byInterval = rest.slice(0, intervals.length);
    byIntervalInline = rest.slice(intervals.length);
  }, 600_000);
  afterAll(() => copy?.dispose());

  describe("alert windows", () => {
    it("syncIntervalMinutes is a closed list of intervals that divide a day", () => {
      expect(intervals.length).toBeGreaterThan(5);
      for (const m of intervals) expect(1440 % m, `${m}`).toBe(0);
    });

    it("every log alert, for every allowed interval, uses a window and frequency Azure accepts", () => {
      for (const [i, minutes] of intervals.entries()) {
        const rules = byType(byInterval[i]!, "Microsoft.Insights/scheduledQueryRules");
        expect(
          rules.map((r) => r.name.replace(/^alert-[a-z0-9]+-[a-z0-9]{8}-/, "")).sort(),
          `interval ${minutes}`,
        ).toEqual(["missed-timer-runs", "outdated-images", "poisoned-copies", "stale-base-images"]);
        for (const r of rules) {
          const window = String(r.properties?.windowSize);
          const frequency = String(r.properties?.evaluationFrequency);
          expect(Object.keys(LOG_ALERT_WINDOWS), `${r.name} window at ${minutes} min`).toContain(window);
          expect(Object.keys(LOG_ALERT_WINDOWS), `${r.name} frequency at ${minutes} min`).toContain(frequency);
          expect(LOG_ALERT_WINDOWS[frequency]!).toBeLessThanOrEqual(LOG_ALERT_WINDOWS[window]!);
        }
        const windowOf = (suffix: string): number =>
          LOG_ALERT_WINDOWS[String(rules.find((r) => r.name.endsWith(suffix))!.properties?.windowSize)]!;
        // Missed runs: two intervals in view; queue-mode outdated: the two latest timer runs in view.
        expect(windowOf("missed-timer-runs"), `missed-runs window at ${minutes}`).toBeGreaterThanOrEqual(2 * minutes);
        expect(windowOf("outdated-images"), `outdated window at ${minutes}`).toBeGreaterThanOrEqual(2 * minutes);
        expect(windowOf("stale-base-images"), `stale window at ${minutes}`).toBeGreaterThan(minutes);

        const inline = byType(byIntervalInline[i]!, "Microsoft.Insights/scheduledQueryRules");
        expect(inline.map((r) => r.name.replace(/^alert-[a-z0-9]+-[a-z0-9]{8}-/, "")).sort()).toEqual([
          "missed-timer-runs",
          "outdated-images",
          "poisoned-copies",
        ]);
        for (const r of inline) {
          const window = String(r.properties?.windowSize);
          const frequency = String(r.properties?.evaluationFrequency);
          expect(Object.keys(LOG_ALERT_WINDOWS), `${r.name} window at ${minutes} min, inline`).toContain(window);
          expect(Object.keys(LOG_ALERT_WINDOWS), `${r.name} frequency at ${minutes} min, inline`).toContain(frequency);
          expect(LOG_ALERT_WINDOWS[frequency]!).toBeLessThanOrEqual(LOG_ALERT_WINDOWS[window]!);
        }
        // Inline: the latest timer run (one interval plus its run time) is always in view.
        const inlineOutdated = inline.find((r) => r.name.endsWith("outdated-images"))!;
        expect(LOG_ALERT_WINDOWS[String(inlineOutdated.properties?.windowSize)]!).toBeGreaterThan(minutes);
      }
    });

    it("inline mode judges the latest timer run after its copies; queue mode two consecutive timer runs", () => {
      const rules = byType(base, "Microsoft.Insights/scheduledQueryRules");
      const query = (r: PredictedResource): string =>
        JSON.stringify((r.properties?.criteria as { allOf: Array<{ query: string }> }).allOf[0]!.query);
      const outdated = rules.find((r) => r.name.endsWith("outdated-images"))!;
      expect(query(outdated)).toContain('name == \\"outdated_images\\"');
      expect(query(outdated)).toContain('customDimensions.trigger) == \\"timer\\"');
      const dims = (outdated.properties?.criteria as { allOf: Array<{ dimensions: Array<{ name: string }> }> })
        .allOf[0]!.dimensions;
      expect(dims.map((d) => d.name)).toEqual(["targetRegistry"]);
      const queued = byType(byInterval[0]!, "Microsoft.Insights/scheduledQueryRules").find((r) =>
        r.name.endsWith("outdated-images"),
      )!;
      expect(query(queued)).toContain('name == \\"outdated_before_sync\\"');
      expect(query(queued)).toContain("runs >= 2");
      const missed = rules.find((r) => r.name.endsWith("missed-timer-runs"))!;
      expect(query(missed)).toContain('customDimensions.trigger) == \\"timer\\"');
      // No stale-base alert without base tracking.
      expect(rules.some((r) => r.name.endsWith("stale-base-images"))).toBe(false);
      for (const r of rules) expect(r.identity?.type).toBe("SystemAssigned");
    });
  });

  describe("role assignments and their scopes", () => {
    const here = rgId(SNAPSHOT_SUBSCRIPTION, SNAPSHOT_RESOURCE_GROUP);
    const grants = (s: Snapshot) =>
      byType(s, "Microsoft.Authorization/roleAssignments")
        .map((r) => `${ALLOWED_ROLES[roleGuid(r)]?.name ?? roleGuid(r)} @ ${scopeOf(r)}`)
        .sort();

    it("grants each role on the one resource that needs it, optional ACR roles only behind their flag", () => {
      const storage = byType(base, "Microsoft.Storage/storageAccounts")[0]!.id;
      const vault = byType(base, "Microsoft.KeyVault/vaults")[0]!.id;
      const appi = byType(base, "Microsoft.Insights/components")[0]!.id;
      const registry = `${here}/providers/Microsoft.ContainerRegistry/registries/myimagesyncacr`;
      const app = [
        `AcrPush @ ${registry}`,
        `Key Vault Secrets User @ ${vault}`,
        `Monitoring Metrics Publisher @ ${appi}`,
        `Storage Blob Data Owner @ ${storage}`,
        `Storage Queue Data Contributor @ ${storage}`,
        `Storage Table Data Contributor @ ${storage}`,
      ];
      const alertReaders = Array<string>(3).fill(`Monitoring Reader @ ${appi}`);
      expect(grants(base)).toEqual([...app, ...alertReaders].sort());
      expect(grants(withRoles)).toEqual(
        [
          ...app,
          ...alertReaders,
          `AcrDelete @ ${registry}`,
          `Container Registry Data Importer and Data Reader @ ${registry}`,
        ].sort(),
      );
    });

    it("app roles go to the app identity, reader roles to each alert rule's own identity", () => {
      for (const r of byType(withRoles, "Microsoft.Authorization/roleAssignments")) {
        const principal = String(r.properties?.principalId);
        const name = ALLOWED_ROLES[roleGuid(r)]?.name;
        if (name === "Monitoring Reader")
          expect(principal).toMatch(/scheduledQueryRules\/.*\.identity\.principalId\]$/);
        else expect(principal).toMatch(/userAssignedIdentities\/id-imgsync-[a-z0-9]{8}', '[\d-]+'\)\.principalId\]$/);
        expect(r.properties?.principalType).toBe("ServicePrincipal");
      }
    });

    it("an existing registry in another subscription gets its roles there, and the app is told where it is", () => {
      const acrRoles = byType(crossSub, "Microsoft.Authorization/roleAssignments").filter((r) =>
        scopeOf(r).includes("/Microsoft.ContainerRegistry/"),
      );
      expect(acrRoles.map(scopeOf)).toEqual([
        `${rgId(OTHER_SUBSCRIPTION, "rg-shared-acr")}/providers/Microsoft.ContainerRegistry/registries/myimagesyncacr`,
      ]);
      const settings = appSettings(crossSub);
      expect(settings.ACR_SUBSCRIPTION_ID).toBe(OTHER_SUBSCRIPTION);
      expect(settings.ACR_RESOURCE_GROUP).toBe("rg-shared-acr");
      expect(settings.ACR_REGISTRY_NAME).toBe("myimagesyncacr");
    });

    it("a registry created here ignores the other-subscription coordinates", () => {
      expect(byType(created, "Microsoft.ContainerRegistry/registries").map((r) => r.id)).toEqual([
        `${here}/providers/Microsoft.ContainerRegistry/registries/myimagesyncacr`,
      ]);
      expect(appSettings(created).ACR_SUBSCRIPTION_ID).toBe(SNAPSHOT_SUBSCRIPTION);
      expect(appSettings(created).ACR_RESOURCE_GROUP).toBe(SNAPSHOT_RESOURCE_GROUP);
    });
  });

  function appSettings(s: Snapshot): Record<string, string> {
    const config = byType(s, "Microsoft.Web/sites/config").find((r) => r.name.endsWith("/appsettings"));
    return (config?.properties ?? {}) as Record<string, string>;
  }

  describe("app settings against shared/settings.ts", () => {
    it("sets exactly the settings the app declares for Azure, plus the host's", () => {
      const set = Object.keys(appSettings(base));
      const hostStorage = set.filter((n) => n.startsWith("AzureWebJobsStorage__"));
      expect(set.filter((n) => !n.startsWith("AzureWebJobsStorage__")).sort()).toEqual(
        [...new Set([...APP_SETTINGS, ...HOST_SETTINGS.filter((h) => !h.startsWith("AzureWebJobsStorage__"))])].sort(),
      );
      expect(hostStorage.sort()).toEqual(
        [
          "AzureWebJobsStorage__accountName",
          "AzureWebJobsStorage__blobServiceUri",
          "AzureWebJobsStorage__clientId",
          "AzureWebJobsStorage__credential",
          "AzureWebJobsStorage__queueServiceUri",
          "AzureWebJobsStorage__tableServiceUri",
        ].sort(),
      );
      for (const forbidden of FLEX_FORBIDDEN_SETTINGS) expect(set).not.toContain(forbidden);
    });

    it("every literal value is one the app's own validation accepts as the documented default", () => {
      const settings = appSettings(base);
      for (const s of SETTINGS) {
        const value = settings[s.name];
        if (value === undefined || value.startsWith("[") || s.default === undefined) continue;
        // Booleans and numbers reach the app as strings; defaults are declared the same way.
        if (s.name === "SYNC_CONFIG" || s.name === "BASES_CONFIG") continue;
        expect(value, s.name).toBe(String(s.default));
      }
      expect(settings.TABLES_ENDPOINT).toMatch(/^\[format\('https:\/\/\{0\}\.table\.\{1\}'/);
      expect(settings.TABLES_ENDPOINT).not.toMatch(/\/'?\)?\]?$/);
    });
  });

  describe("names", () => {
    it("baseName with - and _ still gives valid storage and Key Vault names", () => {
      const storage = byType(oddName, "Microsoft.Storage/storageAccounts")[0]!.name;
      expect(storage).toMatch(/^[a-z0-9]{3,24}$/);
      expect(storage.startsWith("stmyapp01")).toBe(true);
      const vault = byType(oddName, "Microsoft.KeyVault/vaults")[0]!.name;
      expect(vault).toMatch(/^[a-z][a-z0-9-]{1,22}[a-z0-9]$/);
      expect(vault).not.toContain("--");
    });

    it("a Key Vault name seed changes only the vault's name, and recover mode reaches the vault", () => {
      const nameOf = (s: Snapshot, type: string) => byType(s, type).map((r) => r.name);
      expect(nameOf(seeded, "Microsoft.KeyVault/vaults")).not.toEqual(nameOf(base, "Microsoft.KeyVault/vaults"));
      for (const type of [
        "Microsoft.Storage/storageAccounts",
        "Microsoft.Web/sites",
        "Microsoft.Insights/components",
      ]) {
        expect(nameOf(seeded, type)).toEqual(nameOf(base, type));
      }
      expect(byType(seeded, "Microsoft.KeyVault/vaults")[0]!.properties?.createMode).toBe("recover");
      expect(byType(base, "Microsoft.KeyVault/vaults")[0]!.properties?.createMode).toBe("default");
    });
  });

  describe("secrets", () => {
    it("no output is a secret, reads a key or carries a secure parameter", () => {
      for (const [name, output] of Object.entries(template.outputs)) {
        expect(output.type, name).not.toMatch(/^secure/i);
        const value = JSON.stringify(output.value);
        expect(value, name).not.toMatch(/list(Keys|Secrets|AccountSas|ServiceSas|Credentials)\s*\(/i);
        expect(value, name).not.toContain("alertWebhookUrl");
      }
      const secureParams = Object.entries(template.parameters)
        .filter(([, p]) => /^secure/i.test(p.type))
        .map(([n]) => n);
      expect(secureParams).toEqual(["alertWebhookUrl"]);
    });

    it("the webhook URL reaches the action group and nothing else, and no output", () => {
      // A secure parameter stays an expression in the snapshot: follow the reference, and the value itself.
      const holders = withWebhook.predictedResources.filter((r) =>
        /alertWebhookUrl|not-a-real-token/.test(JSON.stringify(r)),
      );
      expect(holders.map((r) => r.type)).toEqual(["Microsoft.Insights/actionGroups"]);
      expect(JSON.stringify(withWebhook.outputs)).not.toMatch(/alertWebhookUrl|not-a-real-token/);
    });
  });

  describe("security baseline", () => {
    it("Key Vault, storage services, the function app and a created registry log everything to the workspace", () => {
      const workspace = byType(base, "Microsoft.OperationalInsights/workspaces")[0]!.id;
      const targets = (s: Snapshot) =>
        byType(s, "Microsoft.Insights/diagnosticSettings")
          .map((d) => {
            expect(d.properties?.workspaceId).toBe(workspace);
            expect(d.properties?.logs).toEqual([{ categoryGroup: "allLogs", enabled: true }]);
            return d.id.slice(0, d.id.indexOf("/providers/Microsoft.Insights/")).split("/providers/")[1] ?? "";
          })
          .sort();
      const kinds = (list: string[]) => list.map((t) => t.replace(/\/[^/]*[a-z0-9]{8}\b/g, "/<name>"));
      expect(kinds(targets(base))).toEqual(
        [
          "Microsoft.KeyVault/vaults/<name>",
          "Microsoft.Storage/storageAccounts/<name>/blobServices/default",
          "Microsoft.Storage/storageAccounts/<name>/queueServices/default",
          "Microsoft.Storage/storageAccounts/<name>/tableServices/default",
          "Microsoft.Web/sites/<name>",
        ].sort(),
      );
      expect(targets(created)).toContain("Microsoft.ContainerRegistry/registries/myimagesyncacr");
    });
  });

  describe("private networking", () => {
    const guarded = [
      "Microsoft.Storage/storageAccounts",
      "Microsoft.KeyVault/vaults",
      "Microsoft.ContainerRegistry/registries",
    ];

    it("off by default: public access on, no VNet, no private endpoint", () => {
      for (const type of guarded.slice(0, 2)) {
        expect(byType(base, type)[0]!.properties?.publicNetworkAccess, type).toBe("Enabled");
      }
      expect(base.predictedResources.filter((r) => r.type.startsWith("Microsoft.Network/"))).toEqual([]);
      expect(byType(base, "Microsoft.Web/sites")[0]!.properties?.virtualNetworkSubnetId ?? null).toBeNull();
    });

    it("one parameter: app in the VNet, private endpoints with DNS for each service, public access off", () => {
      for (const type of guarded) {
        const r = byType(privateNet, type)[0]!;
        expect(r.properties?.publicNetworkAccess, type).toBe("Disabled");
      }
      expect(
        (byType(privateNet, "Microsoft.ContainerRegistry/registries")[0] as { sku?: { name: string } }).sku?.name,
      ).toBe("Premium");
      const endpoints = byType(privateNet, "Microsoft.Network/privateEndpoints").map((e) => {
        const c = (
          e.properties?.privateLinkServiceConnections as Array<{
            properties: { privateLinkServiceId: string; groupIds: string[] };
          }>
        )[0]!.properties;
        return `${c.groupIds.join(",")} -> ${c.privateLinkServiceId.split("/providers/")[1]!.split("/")[0]}`;
      });
      expect(endpoints.sort()).toEqual(
        [
          "blob -> Microsoft.Storage",
          "queue -> Microsoft.Storage",
          "table -> Microsoft.Storage",
          "vault -> Microsoft.KeyVault",
          "registry -> Microsoft.ContainerRegistry",
        ].sort(),
      );
      expect(byType(privateNet, "Microsoft.Network/privateEndpoints/privateDnsZoneGroups")).toHaveLength(5);
      expect(byType(privateNet, "Microsoft.Network/privateDnsZones/virtualNetworkLinks")).toHaveLength(5);
      const subnet = String(byType(privateNet, "Microsoft.Web/sites")[0]!.properties?.virtualNetworkSubnetId);
      expect(subnet).toMatch(/\/Microsoft\.Network\/virtualNetworks\/net-imgsync-[a-z0-9]{8}-vnet\/subnets\/app$/);
      const vnet = byType(privateNet, "Microsoft.Network/virtualNetworks")[0]!;
      const app = (
        vnet.properties?.subnets as Array<{
          name: string;
          properties: { delegations?: Array<{ properties: { serviceName: string } }> };
        }>
      ).find((x) => x.name === "app")!;
      expect(app.properties.delegations?.[0]?.properties.serviceName).toBe("Microsoft.App/environments");
    });
  });

  describe("workbook", () => {
    it("ships the dashboard on the component, and every metric it charts is one the app emits", () => {
      const [workbook, ...others] = byType(base, "Microsoft.Insights/workbooks");
      expect(others).toEqual([]);
      expect(workbook!.properties?.sourceId).toBe(byType(base, "Microsoft.Insights/components")[0]!.id);
      const data = JSON.parse(String(workbook!.properties?.serializedData)) as {
        items: Array<{ content: { title?: string; query?: string } }>;
      };
      const queries = data.items.map((i) => i.content.query ?? "").join("\n");
      for (const title of [
        "Outdated images",
        "Runs, copies and failures",
        "Copy durations",
        "Bytes copied",
        "poison",
        "Base images",
      ]) {
        expect(
          data.items.some((i) => i.content.title?.includes(title)),
          title,
        ).toBe(true);
      }
      const charted = new Set([...queries.matchAll(/"([a-z_]+)"/g)].map((m) => m[1]!).filter((n) => n.includes("_")));
      expect(charted.size).toBeGreaterThan(4);
      const emitted =
        readFileSync(join(ROOT, "shared/sync/executor.ts"), "utf8") +
        readFileSync(join(ROOT, "shared/bases/report.ts"), "utf8");
      for (const name of charted) expect(emitted, `metric ${name}`).toMatch(new RegExp(`\\b${name}\\b`));
    });
  });

  describe("sign-in and publishing", () => {
    it("App Service authentication answers 401 without an Entra ID token, except on the MCP webhook", () => {
      const auth = byType(base, "Microsoft.Web/sites/config").find((r) => r.name.endsWith("/authsettingsV2"))!;
      const p = auth.properties as {
        platform: { enabled: boolean };
        globalValidation: {
          requireAuthentication: boolean;
          unauthenticatedClientAction: string;
          excludedPaths: string[];
        };
        identityProviders: {
          azureActiveDirectory: {
            enabled: boolean;
            registration: { clientId: string; openIdIssuer: string };
            validation: { allowedAudiences: string[] };
          };
        };
      };
      expect(p.platform.enabled).toBe(true);
      expect(p.globalValidation.requireAuthentication).toBe(true);
      expect(p.globalValidation.unauthenticatedClientAction).toBe("Return401");
      expect(p.globalValidation.excludedPaths.every((x) => x.startsWith("/runtime/webhooks/mcp"))).toBe(true);
      expect(p.globalValidation.excludedPaths).toContain("/runtime/webhooks/mcp");
      const aad = p.identityProviders.azureActiveDirectory;
      expect(aad.enabled).toBe(true);
      expect(aad.registration.clientId).toBe(required.authClientId);
      expect(aad.validation.allowedAudiences).toEqual([`api://${required.authClientId}`, required.authClientId]);
    });

    it("the app registration's roles file declares Reader and Operator", () => {
      const roles = JSON.parse(readFileSync(join(INFRA, "auth/app-roles.json"), "utf8")) as Array<{
        value: string;
        id: string;
        isEnabled: boolean;
        allowedMemberTypes: string[];
      }>;
      expect(roles.map((r) => r.value)).toEqual(["Reader", "Operator"]);
      for (const r of roles) {
        expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
        expect(r.isEnabled).toBe(true);
        expect(r.allowedMemberTypes.sort()).toEqual(["Application", "User"]);
      }
    });

    it("basic publishing credentials are off for FTP and SCM", () => {
      const policies = byType(base, "Microsoft.Web/sites/basicPublishingCredentialsPolicies");
      expect(policies.map((r) => [r.name.split("/").pop(), r.properties?.allow]).sort()).toEqual([
        ["ftp", false],
        ["scm", false],
      ]);
    });
  });
});
