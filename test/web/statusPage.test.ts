/**
 * The status page, opened in headless Chromium against the local server, real registries and Azurite: empty store
 * first, then a sync that leaves one tag in sync and one drifted, an XSS probe in the store, the run detail, and the
 * trace view. The trace routes are not registered in the route table yet, so the page's "not available" answer is
 * checked against the real 404, and the trace and diff tables against stub routes added only here: they parse the
 * query with the trace API's own parsers and answer canned traces of the real `TraceResponse` type (the diff through
 * the real `diffTraces`). The base-image section is checked hidden against the real `bases` route (this runtime has no
 * BASES_CONFIG: 404 BasesNotEnabled), and rendered against a stub route answering a canned report of the real
 * `BasesReport` type. Screenshots go to test-output/.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ok } from "../../shared/api/http";
import { dispatch, routes, type Route } from "../../shared/api/routes";
import { serveApi, type RunningServer } from "../../shared/api/server";
import type { BaseReportEntry, BasesReport, ExternalReport, ManagedReport } from "../../shared/bases/report";
import { Runtime } from "../../shared/runtime";
import { readSettings } from "../../shared/settings";
import { Tables } from "../../shared/store/tables";
import { answer, parseDiffQuery, parseTraceQuery, type TraceInput } from "../../shared/trace/api";
import { diffTraces } from "../../shared/trace/diff";
import type { TraceComponent, TraceResponse } from "../../shared/trace/response";
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML, STATUS_PAGE_SCRIPT } from "../../shared/web/statusPage";
import { startAzurite, type RunningAzurite } from "../harness/azurite";
import { buildImage, pushImage } from "../harness/images";
import { registryAvailable, startRegistry, type RunningRegistry } from "../harness/registry";
import { READER } from "../harness/principal";
import { startTogether } from "../harness/together";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const OUTPUT = join(__dirname, "..", "..", "test-output");
const XSS = `<img src=x onerror="window.__xss=1">`;

describe("the page as served", () => {
  it("is one self-contained document: no external script, style, font or image", () => {
    expect(STATUS_PAGE_HTML).toMatch(/^<!doctype html>/);
    expect(STATUS_PAGE_HTML).not.toMatch(/(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i);
    expect(STATUS_PAGE_HTML).not.toMatch(/@import|\burl\(/i);
    expect(STATUS_PAGE_HTML.match(/<script/g)).toHaveLength(1);
  });

  it("its script parses, and sets no HTML from strings", () => {
    expect(() => new Function(STATUS_PAGE_SCRIPT)).not.toThrow();
    expect(STATUS_PAGE_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  });

  it("GET status answers the page with a hash-pinned CSP and no referrer, without touching the runtime", async () => {
    const route = routes.find((r) => r.name === "statusPage")!;
    expect(route).toMatchObject({ route: "status", methods: ["GET"] });
    const res = await dispatch(route, () => ({}) as Runtime, {
      method: "GET",
      params: {},
      query: new URLSearchParams(),
      caller: READER,
    });
    expect(res).toMatchObject({ status: 200, html: true, body: STATUS_PAGE_HTML });
    expect(res.headers).toMatchObject({ "content-security-policy": STATUS_PAGE_CSP, "referrer-policy": "no-referrer" });
    expect(STATUS_PAGE_CSP).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(STATUS_PAGE_CSP).not.toContain("unsafe-inline");
  });
});

// ---- canned traces of the real shape, for the stub routes ------------------------------------------------------------

const hex = (seed: string, n: number) => createHash("sha256").update(seed).digest("hex").slice(0, n);

function component(name: string, path: string, over: Partial<TraceComponent> = {}): TraceComponent {
  const sha = hex(name, 40);
  return {
    name,
    registry: "arohcpsvcdev.azurecr.io",
    repository: `arohcp/${name}`,
    digest: `sha256:${hex(`${name}-digest`, 64)}`,
    source_sha: sha,
    source_repo_url: "https://github.com/Azure/ARO-HCP",
    error: null,
    path,
    status: "pinned",
    tag: null,
    note: null,
    error_kind: null,
    source_sha_from: "vcs-ref",
    source_repo_from: "vcs-url",
    source_url: `https://github.com/Azure/ARO-HCP/tree/${sha}`,
    platform: null,
    created: new Date(Date.now() - 3 * 86_400_000).toISOString(),
    read_from: null,
    ...over,
  } as TraceComponent;
}

function cannedTrace(input: TraceInput): TraceResponse {
  const prod = input.environment === "prod";
  const components = [
    component("clusters-service", "clustersService.image"),
    component(
      "maestro",
      "maestro.image",
      prod ? {} : { digest: `sha256:${hex("maestro-int", 64)}`, source_sha: hex("maestro-int", 40), source_url: null },
    ),
    component("mdsd", "geneva.mdsd.image", {
      source_sha: null,
      source_repo_url: null,
      source_url: null,
      source_sha_from: null,
      source_repo_from: null,
      error: "the image has no source commit label (vcs-ref, org.opencontainers.image.revision)",
      error_kind: "no-label",
    }),
    component(XSS, "probe.image", {
      error: `registry said ${XSS}`,
      error_kind: "registry-error",
      source_repo_url: "javascript:alert(1)",
      source_url: "javascript:alert(1)",
    }),
    ...(prod ? [] : [component("frontend", "frontend.image")]),
  ];
  const failed = components.filter((c) => c.error);
  return {
    commit_sha: input.commit.length === 40 ? input.commit : hex(input.commit, 40),
    environment: input.environment,
    components,
    errors: failed.map((c) => `${c.name} (${c.path}): ${c.error}`),
    ref: input.commit.length === 40 ? null : input.commit,
    cloud: input.cloud ?? "public",
    region: input.region ?? null,
    service: "aro-hcp",
    environment_specific: true,
    warnings: [],
    summary: {
      components: components.length,
      pinned: components.length,
      traced: components.filter((c) => c.source_sha).length,
      failed: failed.length,
    },
    cached: false,
    traced_at: new Date(Date.now() - 90_000).toISOString(),
    config: { source: "git", files: ["config/config.yaml"], skipped_files: [], schema_file: null },
  };
}

const STUB_ROUTES: Route[] = [
  {
    name: "stubTraces",
    route: "traces",
    methods: ["GET"],
    role: "Reader",
    handle: async (_rt, req) => answer(async () => cannedTrace(parseTraceQuery(req.query))),
  },
  {
    name: "stubTracesDiff",
    route: "traces/diff",
    methods: ["GET"],
    role: "Reader",
    handle: async (_rt, req) =>
      answer(async () => {
        const input = parseDiffQuery(req.query);
        return diffTraces(cannedTrace(input.from), cannedTrace(input.to));
      }),
  },
];

// ---- a canned bases report of the real shape, for the stub route ------------------------------------------------------

const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const dg = (seed: string) => `sha256:${hex(seed, 64)}`;

function baseEntry(base: string, over: Partial<BaseReportEntry> = {}): BaseReportEntry {
  return {
    base,
    state: "current",
    critical: false,
    builtFrom: dg(`${base}-old`),
    evidence: "label",
    current: dg(`${base}-old`),
    currentSince: ago(40 * DAY),
    rebuildHelps: true,
    reason: "built from the current digest",
    kind: "external",
    lines: [1],
    via: ["from"],
    platforms: [],
    ...over,
  };
}

function managedEntry(name: string, over: Partial<ManagedReport>): ManagedReport {
  return {
    name,
    image: `myacr.azurecr.io/team/${name}:latest`,
    digest: dg(`${name}-image`),
    dockerfile: `services/${name}/Dockerfile`,
    build: `https://github.com/org/${name}/actions/workflows/build.yml`,
    managedSince: ago(60 * DAY),
    state: "current",
    stale: false,
    eligible: false,
    rebuildDelay: "7d",
    bases: [],
    transitiveBases: [],
    waitingFor: [],
    inCycle: false,
    reasons: [],
    problems: [],
    ...over,
  };
}

function cannedBases(): BasesReport {
  const debian = "docker.io/library/debian:12";
  const node = "docker.io/library/node:22-bookworm";
  const moved = (base: string, staleDays: number, over: Partial<BaseReportEntry> = {}) =>
    baseEntry(base, {
      state: "stale",
      current: dg(`${base}-new`),
      currentSince: ago(staleDays * DAY),
      staleSince: ago(staleDays * DAY),
      eligibleAt: ago((staleDays - 7) * DAY),
      reason: "a newer digest was published after the image was built",
      ...over,
    });
  const managed: ManagedReport[] = [
    // In the report's own order (bases first), not the page's: the page must put the eligible image first.
    managedEntry("web", {
      state: "current",
      bases: [baseEntry(node), baseEntry(debian, { critical: true })],
      trigger: {
        kind: "github",
        url: "https://api.github.com/repos/org/web/actions/workflows/build.yml/dispatches",
        enabled: false,
      },
    }),
    managedEntry(XSS, {
      image: `myacr.azurecr.io/team/${XSS}:1`,
      build: "javascript:alert(1)",
      state: "stale",
      stale: true,
      staleSince: ago(2 * DAY),
      eligibleAt: ago(-5 * DAY),
      bases: [moved(node, 2, { reason: `moved ${XSS}` })],
      reasons: [`${node}: moved ${XSS}`],
      problems: [`label unreadable: ${XSS}`],
    }),
    managedEntry("api", {
      state: "stale",
      stale: true,
      eligible: true,
      staleSince: ago(10 * DAY),
      eligibleAt: ago(3 * DAY),
      rebuildDelay: "7d",
      bases: [moved(debian, 10, { critical: true, eligibleAt: ago(10 * DAY) }), baseEntry(node)],
      reasons: [`${debian}: a newer digest was published after the image was built`],
      trigger: {
        kind: "github",
        url: "https://api.github.com/repos/org/api/actions/workflows/build.yml/dispatches",
        enabled: true,
        last: { fingerprint: "f1", at: ago(2 * 3_600_000), status: "sent" },
      },
    }),
  ];
  const external: ExternalReport[] = [
    {
      image: debian,
      usedBy: ["api", "web"],
      critical: true,
      current: dg(`${debian}-new`),
      currentSince: ago(10 * DAY),
      via: "status",
    },
    {
      image: node,
      usedBy: ["api", "web", XSS],
      critical: false,
      current: dg(`${node}-new`),
      currentSince: ago(2 * DAY),
      via: "registry",
    },
    { image: "docker.io/library/redis", enrolledAs: "redis", usedBy: [], critical: false },
    { image: "ghcr.io/org/private:1", usedBy: ["web"], critical: false, error: "HEAD failed: 401 unauthorized" },
  ];
  return {
    generatedAt: ago(5_000),
    enrollment: "/etc/acr-image-sync/bases.yaml",
    counts: { managedImages: 3, externalImages: external.length, rebuildEligible: 1, staleImages: 2, unknownImages: 0 },
    managed,
    external,
    order: ["web", XSS, "api"],
    cycles: [],
    transitions: [{ name: "web", from: "external", to: "managed", at: ago(60 * DAY) }],
  };
}

const STUB_BASES: Route = {
  name: "stubBases",
  route: "bases",
  methods: ["GET"],
  role: "Reader",
  handle: async () => ok(cannedBases()),
};

// ---- the browser test -----------------------------------------------------------------------------------------------

const missing = !existsSync(CHROMIUM)
  ? `${CHROMIUM} not found (apt-get install -y chromium, or set CHROMIUM_PATH)`
  : !registryAvailable()
    ? "docker-registry not installed"
    : undefined;

describe.skipIf(missing !== undefined)(
  `the status page in headless Chromium${missing ? ` — skipped: ${missing}` : ""}`,
  () => {
    let upstream: RunningRegistry;
    let acr: RunningRegistry;
    let azurite: RunningAzurite;
    let server: RunningServer;
    let runtime: Runtime;
    let browser: Browser;
    let page: Page;
    const consoleErrors: string[] = [];
    const apiRequests: string[] = [];
    // The source commit the mirrored images' labels name: the page shows it per row (issue 20).
    const PAGE_SHA = "5e1c0a7b9d2f4e6a8c0b1d3f5a7c9e1b3d5f7a9c";

    beforeAll(async () => {
      [upstream, acr, azurite] = await startTogether(startRegistry(), startRegistry(), startAzurite());
      await pushImage(upstream.host, "library/app", buildImage({ labels: { "vcs-ref": PAGE_SHA } }), "1.0");
      await pushImage(upstream.host, "library/app", buildImage({ labels: { "vcs-ref": PAGE_SHA } }), "2.0");
      const dir = mkdtempSync(join(tmpdir(), "status-page-"));
      writeFileSync(
        join(dir, "sync.yaml"),
        [
          `target: { registry: "${acr.host}", prefix: mirror }`,
          "images:",
          `  - { source: "${upstream.host}/library/app", tags: ["1.0", "2.0"] }`,
        ].join("\n"),
      );
      runtime = new Runtime(
        readSettings({ SYNC_CONFIG: join(dir, "sync.yaml"), TABLES_CONNECTION_STRING: azurite.connectionString }),
        {
          tables: new Tables({ connectionString: azurite.connectionString, prefix: "web" }),
        },
      );
      server = await serveApi(runtime);
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-first-run",
        ],
      });
      page = await browser.newPage({ viewport: { width: 1440, height: 900 }, colorScheme: "light" });
      page.on("console", (m) => {
        if (m.type() === "error") consoleErrors.push(m.text());
      });
      page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));
      page.on("request", (r) => {
        const url = new URL(r.url());
        if (r.resourceType() === "fetch") apiRequests.push(url.pathname + url.search);
      });
      mkdirSync(OUTPUT, { recursive: true });
    }, 120_000);

    afterAll(async () => {
      for (const r of [...STUB_ROUTES, STUB_BASES]) {
        const i = routes.indexOf(r);
        if (i >= 0) routes.splice(i, 1);
      }
      await browser?.close();
      await server?.close();
      await Promise.all([upstream?.stop(), acr?.stop(), azurite?.stop()]);
    });

    /** Opens (or reloads) the page from an old bookmark with a key in its URL and waits for the first refresh. */
    async function open(): Promise<void> {
      await page.goto(`${server.url}/api/?code=test-key-123`);
      await page.waitForSelector('body[data-loaded="1"]');
    }
    const rows = (table: string) => page.locator(`table[data-table="${table}"] tbody tr`);
    const count = (id: string) => page.locator(`[data-count="${id}"] .n`).innerText();
    const realErrors = () => consoleErrors.filter((e) => !/status of 404/.test(e));

    it("works on an empty store: empty tables say so, health is green, no JavaScript error", async () => {
      await open();
      await expect(rows("images").first().innerText()).resolves.toMatch(/No images recorded yet/);
      await expect(rows("runs").first().innerText()).resolves.toMatch(/No runs yet/);
      await expect(count("total")).resolves.toBe("0");
      await expect(count("outdated")).resolves.toBe("0");
      await expect(page.locator("#health").innerText()).resolves.toBe("healthy");
      await expect(page.locator("#lastrun").innerText()).resolves.toMatch(/no runs yet/);
      await page.screenshot({ path: join(OUTPUT, "status-page-empty.png"), fullPage: true });
      expect(realErrors()).toEqual([]);
    });

    it("lists the outdated tag first with both digests, counts per state, and escapes what the API says", async () => {
      expect((await runtime.sync({ trigger: "cli" })).run.copied).toBe(2);
      // Upstream moves 2.0; a report-only run sees the drift and copies nothing.
      await pushImage(upstream.host, "library/app", buildImage(), "2.0");
      const report = await runtime.sync({ trigger: "manual", reportOnly: true });
      expect(report.run.countsAfter.drifted).toBe(1);
      // A row whose key and error are markup.
      await runtime.requireStore().saveStatuses([
        {
          key: `${acr.host}/mirror/${XSS}:1.0`,
          targetRegistry: acr.host,
          targetRepository: `mirror/probe`,
          tag: "1.0",
          source: `${upstream.host}/probe:1.0`,
          state: "error",
          lastCheckedAt: new Date().toISOString(),
          lastError: `HEAD failed: ${XSS}`,
          lastRunId: report.run.runId,
          origin: "images[9] line 99",
        },
      ]);

      await open();
      // The header badge reflects the error row: the service works, a tag does not.
      await expect(page.locator("#health .pill").innerText()).resolves.toBe("degraded: images");
      const first = rows("images").first();
      await expect(first.getAttribute("data-state")).resolves.toBe("drifted");
      await expect(first.innerText()).resolves.toContain("mirror/library/app:2.0");
      // Upstream and mirrored digests differ on that row, and the mirrored one is marked.
      const digests = first.locator("button.digest");
      await expect(digests.count()).resolves.toBe(2);
      const [up, mirrored] = [
        await digests.nth(0).getAttribute("data-copy"),
        await digests.nth(1).getAttribute("data-copy"),
      ];
      expect(up).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(mirrored).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(up).not.toBe(mirrored);
      await expect(digests.nth(1).getAttribute("class")).resolves.toContain("differs");
      await expect(digests.nth(0).innerText()).resolves.toBe(up!.slice(7, 19));

      await expect(rows("images").count()).resolves.toBe(3);
      expect(await rows("images").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-state")))).toEqual([
        "drifted",
        "error",
        "in-sync",
      ]);
      expect({
        total: await count("total"),
        outdated: await count("outdated"),
        drifted: await count("drifted"),
        inSync: await count("in-sync"),
        error: await count("error"),
        missing: await count("missing"),
      }).toEqual({ total: "3", outdated: "1", drifted: "1", inSync: "1", error: "1", missing: "0" });
      await expect(page.title()).resolves.toMatch(/^\(1 outdated\)/);
      await expect(page.locator("#images").innerText()).resolves.toContain(PAGE_SHA.slice(0, 12));

      // The probe is text: visible as written, no element made of it, no handler ran.
      const probe = rows("images").nth(1);
      await expect(probe.innerText()).resolves.toContain(XSS);
      await expect(page.locator("#images img").count()).resolves.toBe(0);
      await expect(page.evaluate(() => (globalThis as { __xss?: number }).__xss)).resolves.toBeUndefined();

      // Relative times with the absolute time on hover.
      const checked = first.locator("time").last();
      await expect(checked.innerText()).resolves.toMatch(/just now|\d+ s ago/);
      await expect(checked.getAttribute("title")).resolves.toMatch(/\d{4}-\d{2}-\d{2}T/);
      expect(realErrors()).toEqual([]);
    });

    it("sorts by a header, filters by a count, and never passes a key from its URL on to an API call", async () => {
      await page.locator('table[data-table="images"] th[data-key="key"]').click();
      const keys = async () =>
        rows("images").evaluateAll((trs) => trs.map((tr) => tr.querySelector("td.key")!.firstChild!.textContent));
      const asc = await keys();
      expect(asc).toEqual([...asc].sort((a, b) => a!.localeCompare(b!, undefined, { numeric: true })));
      await page.locator('table[data-table="images"] th[data-key="key"]').click();
      expect(await keys()).toEqual([...asc].reverse());

      await page.locator('[data-count="outdated"]').click();
      await expect(rows("images").count()).resolves.toBe(1);
      await page.locator('[data-count="outdated"]').click();
      await expect(rows("images").count()).resolves.toBe(3);
      await page.locator('table[data-table="images"] th[data-key="state"]').click();
      await expect(rows("images").first().getAttribute("data-state")).resolves.toBe("drifted");

      // Auto-refresh counts down and can be paused.
      await expect(page.locator("#updated").innerText()).resolves.toMatch(/next in \d+ s/);
      await page.click("#pause");
      await expect(page.locator("#pause").innerText()).resolves.toBe("Resume");
      await expect(page.locator("#updated").innerText()).resolves.toMatch(/paused/);
      await page.click("#pause");
      await expect(page.locator("#pause").innerText()).resolves.toBe("Pause");

      expect(apiRequests.length).toBeGreaterThanOrEqual(8);
      for (const url of apiRequests) expect(new URL(url, "http://x").searchParams.has("code"), url).toBe(false);
      expect(apiRequests).toContain("/api/runs?limit=20");
      expect(apiRequests).toContain("/api/images?action=summarize");
    });

    it("shows the last runs with status, outdated before→after and copied/failed, and a run's results on click", async () => {
      await expect(rows("runs").count()).resolves.toBe(2);
      const newest = rows("runs").first();
      const text = await newest.innerText();
      expect(text).toMatch(/succeeded/);
      expect(text).toMatch(/report-only/);
      expect(text).toMatch(/1\s*→\s*1/);
      await expect(rows("runs").nth(1).innerText()).resolves.toMatch(/2\s*→\s*0/);
      await expect(page.locator("#lastrun").innerText()).resolves.toMatch(/last run succeeded/);

      await newest.click();
      await page.waitForSelector('table[data-table="results"] tbody tr');
      await expect(rows("results").count()).resolves.toBe(2);
      await expect(page.locator("#run-detail").innerText()).resolves.toMatch(/reported/);
      expect(realErrors()).toEqual([]);
    });

    it("hides the base-image section when the bases route answers 404 BasesNotEnabled (no BASES_CONFIG)", async () => {
      const before = consoleErrors.length;
      await open();
      await page.waitForSelector('#bases-panel[data-bases="off"]', { state: "attached" });
      await expect(page.locator("#bases-panel").isHidden()).resolves.toBe(true);
      expect(apiRequests).toContain("/api/bases");
      // The real route's answer, not a missing route.
      const res = await dispatch(
        routes.find((r) => r.name === "listBases")!,
        () => runtime,
        { method: "GET", params: {}, query: new URLSearchParams(), caller: READER },
      );
      expect(res).toMatchObject({ status: 404, body: { error: { code: "BasesNotEnabled" } } });
      // Only the browser's own line about the 404 resource, nothing else.
      expect(consoleErrors.slice(before).filter((e) => !/status of 404/.test(e))).toEqual([]);
    });

    it("shows base images: counts, eligible first, moved digests, links only for http(s), the probe as text", async () => {
      routes.unshift(STUB_BASES);
      try {
        await open();
        await page.waitForSelector('#bases-panel[data-bases="shown"]');
        await expect(page.locator("#bases-panel").isVisible()).resolves.toBe(true);
        const bcount = (id: string) => page.locator(`[data-bases-count="${id}"] .n`).innerText();
        expect({
          managed: await bcount("managed"),
          eligible: await bcount("eligible"),
          stale: await bcount("stale"),
          external: await bcount("external"),
        }).toEqual({
          managed: "3",
          eligible: "1",
          stale: "2",
          external: "4",
        });

        // Eligible first, then stale, then fresh, whatever the report's order.
        expect(
          await rows("bases").evaluateAll((trs) =>
            trs.map((tr) => [tr.getAttribute("data-image"), tr.getAttribute("data-bases-state")]),
          ),
        ).toEqual([
          ["api", "eligible"],
          [XSS, "stale"],
          ["web", "fresh"],
        ]);
        const api = rows("bases").first();
        const apiText = await api.innerText();
        expect(apiText).toContain("docker.io/library/debian:12");
        expect(apiText).toMatch(/critical/);
        expect(apiText).toMatch(/10 d ago/);
        expect(apiText).toMatch(/3 d ago/);
        expect(apiText).toMatch(/sent/);
        // The moved base: built-from → current, short, the full digest on hover, and the current one marked as differing.
        const moved = api.locator('.basemove[data-base="docker.io/library/debian:12"] button.digest');
        await expect(moved.count()).resolves.toBe(2);
        await expect(moved.nth(0).getAttribute("data-copy")).resolves.toBe(dg("docker.io/library/debian:12-old"));
        await expect(moved.nth(1).getAttribute("data-copy")).resolves.toBe(dg("docker.io/library/debian:12-new"));
        await expect(moved.nth(1).innerText()).resolves.toBe(hex("docker.io/library/debian:12-new", 12));
        await expect(moved.nth(1).getAttribute("title")).resolves.toContain(dg("docker.io/library/debian:12-new"));
        await expect(moved.nth(1).getAttribute("class")).resolves.toContain("differs");
        await expect(api.locator("time").first().getAttribute("title")).resolves.toMatch(/\d{4}-\d{2}-\d{2}T/);
        await expect(api.locator("a").getAttribute("href")).resolves.toBe(
          "https://github.com/org/api/actions/workflows/build.yml",
        );

        // Stale, not yet eligible: due in 5 days.
        const probe = rows("bases").nth(1);
        await expect(probe.innerText()).resolves.toMatch(/in 5 d/);
        // The probe is text everywhere, and its javascript: build link is not a link.
        await expect(probe.innerText()).resolves.toContain(XSS);
        await expect(probe.locator("a").count()).resolves.toBe(0);
        await expect(page.locator("#bases-panel img").count()).resolves.toBe(0);
        await expect(page.locator("#bases-external").innerText()).resolves.toContain(XSS);
        await expect(page.evaluate(() => (globalThis as { __xss?: number }).__xss)).resolves.toBeUndefined();

        await expect(rows("bases").nth(2).innerText()).resolves.toMatch(/all current/);
        await expect(page.locator("#bases-external li").count()).resolves.toBe(4);
        await expect(page.locator("#bases-external li").first().innerText()).resolves.toMatch(
          /debian:12[\s\S]*critical/,
        );
        await expect(page.locator("#bases-notes").innerText()).resolves.toMatch(/web: external → managed/);

        // A count filters the table.
        await page.locator('[data-bases-count="eligible"]').click();
        await expect(rows("bases").count()).resolves.toBe(1);
        await page.locator('[data-bases-count="eligible"]').click();
        await expect(rows("bases").count()).resolves.toBe(3);

        await page.mouse.move(0, 0);
        await page.screenshot({ path: join(OUTPUT, "status-page-bases.png"), fullPage: true });
        expect(existsSync(join(OUTPUT, "status-page-bases.png"))).toBe(true);
        for (const url of apiRequests.filter((u) => u.startsWith("/api/bases"))) expect(url).toBe("/api/bases");
        expect(realErrors()).toEqual([]);
      } finally {
        routes.splice(routes.indexOf(STUB_BASES), 1);
      }
      // The real route again: hidden on the next load.
      await open();
      await page.waitForSelector('#bases-panel[data-bases="off"]', { state: "attached" });
      await expect(page.locator("#bases-panel").isHidden()).resolves.toBe(true);
    });

    it("the trace view says so when the trace routes are not deployed", async () => {
      if (routes.some((r) => r.route === "traces")) return; // registered by now: nothing to check here
      await page.fill('#trace-form [name="commit"]', "main");
      await page.fill('#trace-form [name="environment"]', "prod");
      await page.click('#trace-form button[type="submit"]');
      const note = page.locator('[data-trace="unavailable"]');
      await note.waitFor();
      await expect(note.innerText()).resolves.toMatch(/not available on this server.*404/);
      expect(realErrors()).toEqual([]);
    });

    it("renders a trace table and a diff (stub routes of the real shapes)", async () => {
      routes.unshift(...STUB_ROUTES);
      await page.fill('#trace-form [name="commit"]', "main");
      await page.fill('#trace-form [name="environment"]', "prod");
      await page.fill('#trace-form [name="region"]', "eastus2");
      await page.click('#trace-form button[type="submit"]');
      await page.waitForSelector('table[data-table="trace"] tbody tr');
      await expect(rows("trace").count()).resolves.toBe(4);
      const cs = page.locator('table[data-table="trace"] tr[data-component="clustersService.image"]');
      await expect(cs.innerText()).resolves.toContain(hex("clusters-service", 10));
      await expect(cs.locator("a").first().getAttribute("href")).resolves.toBe(
        `https://github.com/Azure/ARO-HCP/tree/${hex("clusters-service", 40)}`,
      );
      await expect(page.locator('tr[data-component="geneva.mdsd.image"]').innerText()).resolves.toMatch(/no-label/);
      // The probe component: text, and its javascript: links are not links.
      const probe = page.locator('tr[data-component="probe.image"]');
      await expect(probe.innerText()).resolves.toContain(XSS);
      await expect(probe.locator("a").count()).resolves.toBe(0);
      await expect(page.locator("#trace-result img").count()).resolves.toBe(0);
      await expect(page.locator("#trace-result .facts").innerText()).resolves.toMatch(/region eastus2/);
      expect(apiRequests).toContain("/api/traces?commit=main&environment=prod&region=eastus2");
      await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
      await page.mouse.move(0, 0);
      await page.screenshot({ path: join(OUTPUT, "status-page.png"), fullPage: true });

      await page.click("#tab-diff");
      await page.fill('#diff-form [name="commit"]', "main");
      await page.fill('#diff-form [name="environment"]', "int");
      await page.fill('#diff-form [name="environment_b"]', "prod");
      await page.click('#diff-form button[type="submit"]');
      await page.waitForSelector('table[data-table="diff"] tbody tr');
      const changes = await rows("diff").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-component")));
      expect(changes.sort()).toEqual(["frontend.image", "maestro.image"]);
      await expect(page.locator('tr[data-component="maestro.image"]').innerText()).resolves.toMatch(/changed/);
      await expect(page.locator('tr[data-component="frontend.image"]').innerText()).resolves.toMatch(/removed/);
      await expect(page.locator("#trace-result details.unchanged summary").innerText()).resolves.toMatch(
        /3 components unchanged/,
      );
      expect(apiRequests).toContain("/api/traces/diff?commit=main&environment=int&environment_b=prod");
      // A bad input is the trace API's 400, shown as such.
      await page.fill('#diff-form [name="environment_b"]', "int");
      await page.click('#diff-form button[type="submit"]');
      await expect(page.locator('[data-trace="error"]').innerText()).resolves.toMatch(
        /both sides are the same.*HTTP 400/,
      );
      await page.fill('#diff-form [name="environment_b"]', "prod");
      await page.click('#diff-form button[type="submit"]');
      await page.waitForSelector('table[data-table="diff"] tbody tr');
      await page.evaluate(() => (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0));
      await page.mouse.move(0, 0);
      await page.screenshot({ path: join(OUTPUT, "status-page-diff.png"), fullPage: true });

      await page.emulateMedia({ colorScheme: "dark" });
      await page.screenshot({ path: join(OUTPUT, "status-page-dark.png"), fullPage: true });
      expect(existsSync(join(OUTPUT, "status-page.png"))).toBe(true);

      // At the Functions path (/api/status, with or without a trailing slash), a shared #trace link runs by itself.
      await page.emulateMedia({ colorScheme: "light" });
      for (const path of ["/api/status", "/api/status/"]) {
        await page.goto(`${server.url}${path}#trace?commit=main&environment=prod`);
        await page.waitForSelector('body[data-loaded="1"]');
        await page.waitForSelector('table[data-table="trace"] tbody tr');
        await expect(count("outdated")).resolves.toBe("1");
      }
      expect(apiRequests).toContain("/api/traces?commit=main&environment=prod");
      expect(apiRequests.filter((u) => u.startsWith("/api/status/"))).toEqual([]);
      // Only the expected 404 (trace routes absent) and 400 (same sides) resource errors, nothing else.
      expect(realErrors().filter((e) => !/status of 400/.test(e))).toEqual([]);
      await expect(page.evaluate(() => (globalThis as { __xss?: number }).__xss)).resolves.toBeUndefined();
    });
  },
);
