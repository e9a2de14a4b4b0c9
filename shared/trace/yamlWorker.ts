/**
 * YAML parsing off the event loop. The `yaml` parser is not linear on hostile input: a 1 MiB file of nested `[`
 * takes seconds, and even an honest 1 MiB config about two (bench/security.bench.ts). A traced commit's files are
 * untrusted, so each is parsed in a worker thread with a time and memory limit, and the instance keeps answering
 * (health, other traces) meanwhile. The worker is a few lines of plain JavaScript around the same `yaml` package
 * and options as `parseConfigYaml`, so it runs unchanged from the compiled app and from the tests' TypeScript.
 */
import { Worker } from "node:worker_threads";

/** Longest one file may take to parse; past it the worker is stopped and the file refused. */
export const PARSE_TIMEOUT_MS = 5000;
/** Files parsed at once per instance: each worker is a thread and its own heap. */
const MAX_WORKERS = 2;

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { LineCounter, parseDocument } = require(workerData.yaml);
const lineCounter = new LineCounter();
const doc = parseDocument(workerData.text, { lineCounter, merge: true, prettyErrors: false });
const [error] = doc.errors;
if (error) {
  const { line, col } = lineCounter.linePos(error.pos[0]);
  parentPort.postMessage({ error: { line, col, message: error.message } });
} else {
  try {
    parentPort.postMessage({ value: doc.toJS() });
  } catch (err) {
    parentPort.postMessage({ error: { line: 0, col: 0, message: String(err && err.message) } });
  }
}
`;

export type WorkerParse = { value: unknown } | { error: { line: number; col: number; message: string } };

let running = 0;
const waiting: Array<() => void> = [];

async function slot(): Promise<() => void> {
  if (running >= MAX_WORKERS) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  return () => {
    running--;
    waiting.shift()?.();
  };
}

/** Parses `text` (templates already neutralised) in a worker: the document's value or its first error. */
export async function parseYamlInWorker(text: string, timeoutMs = PARSE_TIMEOUT_MS): Promise<WorkerParse> {
  const release = await slot();
  try {
    return await new Promise<WorkerParse>((resolve) => {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { text, yaml: require.resolve("yaml") },
        resourceLimits: { maxOldGenerationSizeMb: 256 },
      });
      const timer = setTimeout(() => {
        void worker.terminate();
        resolve({ error: { line: 0, col: 0, message: `too complex: not parsed within ${timeoutMs / 1000} s` } });
      }, timeoutMs);
      const done = (result: WorkerParse) => {
        clearTimeout(timer);
        void worker.terminate();
        resolve(result);
      };
      worker.once("message", (m: WorkerParse) => done(m));
      // Out of memory (resourceLimits) or any crash of the parser: the file is refused, the instance lives on.
      worker.once("error", () => done({ error: { line: 0, col: 0, message: "not parsed: the parser failed" } }));
    });
  } finally {
    release();
  }
}
