/**
 * Security benchmark: how long the event loop is held by one synchronous step of a trace when the input is hostile
 * and at its cap (1 MiB config files, RE2 patterns). Each figure is the wall time of one synchronous call, i.e. the
 * time no other request (such as /api/health) can be answered. Not asserted anywhere: run
 * `npm run build && node dist/bench/security.bench.js` (BENCH_RUNS repetitions, default 5; the table shows the worst).
 * The YAML rows are why a traced commit's files are parsed in a worker thread (shared/trace/yamlWorker.ts): only
 * the template scan (at most MAX_TEMPLATES expressions), JSON, the schema walk and RE2 stay on the event loop.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { compileLinear } from "../shared/linearRegex";
import { parseConfigYaml, parseJsonFile } from "../shared/trace/configFile";
import { extractImages } from "../shared/trace/images";
import { MAX_CONFIG_FILE_BYTES } from "../shared/trace/source";
import { neutraliseTemplates } from "../shared/trace/template";
import { fmt, printTable, writeReport } from "./report";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const FIXTURES = process.env.TRACE_FIXTURES_DIR ?? path.resolve(__dirname, "../../test/fixtures");
const CAP = MAX_CONFIG_FILE_BYTES;

function worst(fn: () => unknown): number {
  let max = 0;
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    try {
      fn();
    } catch {
      // A refused input is an outcome like any other: what counts is how long it took to refuse.
    }
    max = Math.max(max, performance.now() - started);
  }
  return max;
}

const fill = (unit: string, bytes = CAP - 64) => unit.repeat(Math.floor(bytes / unit.length));

function main(): void {
  const config = readFileSync(path.join(FIXTURES, "aro-hcp/config/config.yaml"), "utf8");
  const schemaText = readFileSync(path.join(FIXTURES, "aro-hcp/config/config.schema.json"), "utf8");
  // The real config, its top-level keys renamed per copy, up to the cap: the largest plausible honest file.
  const copies: string[] = [];
  for (let i = 0; copies.join("\n").length + config.length < CAP; i++)
    copies.push(config.replace(/^([A-Za-z$][\w$-]*):/gm, `$1_${i}:`));
  const bigConfig = copies.join("\n");
  const schema = parseJsonFile(schemaText, "config.schema.json");
  const parsed = parseConfigYaml(config, "config.yaml");
  const longTag = "a".repeat(128);
  const cases: Array<[string, number, () => unknown]> = [
    ["template scan: 1 MiB of unclosed `{{ `", CAP, () => neutraliseTemplates(fill("{{ "))],
    ["template scan: 1 MiB of `{{x}}` (refused at MAX_TEMPLATES)", CAP, () => neutraliseTemplates(fill("{{x}}"))],
    ["template scan: MAX_TEMPLATES `{{x}}`", 5 * 20_000, () => neutraliseTemplates("{{x}}".repeat(20_000))],
    ["YAML: 1 MiB of `{{ ` in a comment", CAP, () => parseConfigYaml(`a: 1 # ${fill("{{ ")}`, "x.yaml")],
    ["YAML: 1 MiB of `{{x}}` values", CAP, () => parseConfigYaml(fill("- {{x}}\n"), "x.yaml")],
    ["YAML: 1 MiB of nested flow `[`", CAP, () => parseConfigYaml(`a: ${fill("[")}`, "x.yaml")],
    ["YAML: ARO-HCP config copied to 1 MiB", bigConfig.length, () => parseConfigYaml(bigConfig, "x.yaml")],
    ["JSON: 1 MiB schema-like file", CAP, () => parseJsonFile(`[${fill('{"a":1},')}0]`, "x.json")],
    ["schema walk: ARO-HCP config with its schema", config.length, () => extractImages(parsed, { schema })],
    ["RE2: compile a 1000-char pattern", 1000, () => compileLinear(fill("(a|b)*", 1000).slice(0, 1000))],
    ["RE2: `(a+)+b` on a 128-char tag", 128, () => compileLinear("^(?:(a+)+b)$").test(longTag)],
  ];
  const rows = cases.map(([name, bytes, fn]) => ({ step: name, bytes, worstMs: worst(fn) }));
  printTable(rows.map((r) => ({ step: r.step, bytes: String(r.bytes), "worst ms": fmt(r.worstMs, 1) })));
  writeReport("security", { runs: RUNS, node: process.version, rows });
}

main();
