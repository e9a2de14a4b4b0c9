/**
 * One Runtime per worker process, built on first use: reading settings at import time would make a bad setting
 * drop every function in the file ("no functions found"), while here it becomes a clear error in the first call.
 */
import { Runtime } from "../shared/runtime";
import { readSettings } from "../shared/settings";

let runtime: Runtime | undefined;

export function getRuntime(): Runtime {
  runtime ??= new Runtime(readSettings(process.env));
  return runtime;
}

/** Tests swap in a runtime built against Azurite and local registries. */
export function setRuntime(next: Runtime | undefined): void {
  runtime = next;
}
