/**
 * Calls the timer function the way the Functions host does (a Timer and an InvocationContext), for the local demo:
 * the same handler, the same settings path, with log lines going wherever the caller wants.
 */
import { InvocationContext, type Timer } from "@azure/functions";
import type { Runtime } from "../shared/runtime";
import { copyImage } from "./copyImage";
import { setRuntime } from "./runtime";
import { syncImages } from "./syncImages";

export async function runTimerLocally(runtime: Runtime, log: (level: string, line: string) => void): Promise<void> {
  setRuntime(runtime);
  const now = new Date().toISOString();
  const timer: Timer = {
    isPastDue: false,
    schedule: { adjustForDST: false },
    scheduleStatus: { last: now, next: now, lastUpdated: now },
  };
  const context = new InvocationContext({
    functionName: "syncImages",
    invocationId: `local-${Date.now()}`,
    logHandler: (level, ...args) => log(level, args.map(String).join(" ")),
  });
  await syncImages(timer, context);
}

/**
 * Calls the queue function the way the host does for one delivered message (its dequeue count in the trigger
 * metadata), for local copy workers (bench/queueWorker.ts). The runtime is the one `getRuntime` builds from the
 * process's settings, as on a Function instance.
 */
export async function copyMessageLocally(
  message: unknown,
  dequeueCount: number,
  log: (level: string, line: string) => void,
): Promise<void> {
  const context = new InvocationContext({
    functionName: "copyImage",
    invocationId: `local-${process.pid}-${Date.now()}`,
    triggerMetadata: { dequeueCount },
    logHandler: (level, ...args) => log(level, args.map(String).join(" ")),
  });
  await copyImage(message, context);
}
