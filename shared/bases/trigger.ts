/**
 * Optional rebuild triggers: a GitHub workflow_dispatch or a GitLab pipeline trigger per managed image. Nothing is
 * sent unless the caller turns triggers on and the image's trigger says `enabled: true`; each staleness (the set of
 * base digests a rebuild would pick up) is triggered once, and a failed trigger is tried again on the next call.
 * The token goes in one header or form field and nowhere else: not in a log line, an error or a stored record.
 */
import type { Transport } from "../registry/transport";
import type { BaseStore, TriggerRecord } from "../store/baseStore";
import type { Enrollment, ManagedImage, TriggerSpec } from "./enrollmentTypes";
import { safeUrl, sendHttp } from "./http";
import type { BasesReport, ManagedReport } from "./report";
import { describeToken, type TokenResolver } from "./tokens";

export class TriggerError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "TriggerError";
  }
}

export interface TriggerSent {
  status: number;
  /** The pipeline's page, when the service says (GitLab does). */
  link?: string;
}

const GITHUB_API_VERSION = "2022-11-28";

function redact(text: string, token: string): string {
  return token ? text.split(token).join("***") : text;
}

function apiMessage(text: string, token: string): string {
  let detail = "";
  try {
    const body = JSON.parse(text) as { message?: unknown; error?: unknown };
    const value = body.message ?? body.error;
    detail = typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value);
  } catch {
    // not JSON: say nothing rather than echo a page
  }
  return detail ? `: ${redact(detail, token).slice(0, 300)}` : "";
}

function request(trigger: TriggerSpec, token: string): { headers: Record<string, string>; body: string; ok: number[] } {
  if (trigger.kind === "github") {
    return {
      headers: {
        Accept: "application/vnd.github+json",
        Authorization: `Bearer ${token}`,
        "X-GitHub-Api-Version": GITHUB_API_VERSION,
        "Content-Type": "application/json",
      },
      body: JSON.stringify({ ref: trigger.ref, inputs: trigger.inputs }),
      // 204 is the documented answer; 200 when the caller asks for run details.
      ok: [200, 204],
    };
  }
  const form = new URLSearchParams({ token, ref: trigger.ref });
  for (const [name, value] of Object.entries(trigger.inputs)) form.set(`variables[${name}]`, value);
  return { headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: form.toString(), ok: [200, 201] };
}

/** Sends one trigger. Never retried: a trigger that timed out may have started a build, and two builds are worse. */
export async function sendRebuildTrigger(
  transport: Transport,
  trigger: TriggerSpec,
  token: string,
): Promise<TriggerSent> {
  const { headers, body, ok } = request(trigger, token);
  const where = `${trigger.kind} trigger ${safeUrl(trigger.url)}`;
  let answer;
  try {
    answer = await sendHttp(transport, {
      url: trigger.url,
      method: "POST",
      headers,
      body,
      retry: false,
      maxBytes: 64 * 1024,
    });
  } catch (err) {
    throw new TriggerError(`${where}: ${redact((err as Error).message, token)}`);
  }
  if (!ok.includes(answer.status)) {
    const hint = answer.status === 401 || answer.status === 403 ? " (check the token and its permissions)" : "";
    // A refused token is refused: the hint says what to do, and the service's text would only risk echoing it.
    const message = answer.status === 401 ? "" : apiMessage(answer.text, token);
    throw new TriggerError(`${where} answered ${answer.status}${message}${hint}`, answer.status);
  }
  let link: string | undefined;
  try {
    const parsed = JSON.parse(answer.text) as { web_url?: unknown; html_url?: unknown };
    const url = parsed.web_url ?? parsed.html_url;
    if (typeof url === "string" && /^https?:\/\//.test(url)) link = url;
  } catch {
    // 204 has no body
  }
  return { status: answer.status, ...(link ? { link } : {}) };
}

export interface TriggerDeps {
  enrollment: Enrollment;
  transport: Transport;
  tokens: TokenResolver;
  store: BaseStore;
  log?: (line: string) => void;
}

export interface TriggerOptions {
  /** The global switch: false sends nothing, whatever the enrollment says. */
  enabled: boolean;
  now: Date;
}

export type TriggerOutcome =
  | { name: string; action: "sent"; link?: string }
  | { name: string; action: "failed"; error: string }
  | { name: string; action: "skipped"; reason: string };

/** What a rebuild now would pick up: the stale bases a rebuild helps with, at their current digests. */
export function triggerFingerprint(image: ManagedReport): string {
  return image.bases
    .filter((b) => b.state === "stale" && b.rebuildHelps)
    .map((b) => `${b.base}@${b.current ?? "?"}`)
    .sort()
    .join(" ");
}

function skip(name: string, reason: string): TriggerOutcome {
  return { name, action: "skipped", reason };
}

/** Triggers a rebuild of every eligible managed image whose trigger is enabled; one outcome per eligible image. */
export async function triggerRebuilds(
  report: BasesReport,
  deps: TriggerDeps,
  options: TriggerOptions,
): Promise<TriggerOutcome[]> {
  const byName = new Map(
    deps.enrollment.images.filter((i): i is ManagedImage => i.kind === "managed").map((i) => [i.name, i]),
  );
  const records = await deps.store.listEnrollments();
  const outcomes: TriggerOutcome[] = [];
  // Report order is rebuild order, so a base's pipeline is asked for before its dependants'.
  for (const image of report.managed.filter((m) => m.eligible)) {
    const trigger = byName.get(image.name)?.trigger;
    const record = records.get(image.name);
    const fingerprint = triggerFingerprint(image);
    if (!trigger) {
      outcomes.push(skip(image.name, "no trigger configured"));
    } else if (!options.enabled) {
      outcomes.push(skip(image.name, "rebuild triggers are off"));
    } else if (!trigger.enabled) {
      outcomes.push(skip(image.name, "trigger not enabled for this image"));
    } else if (!record) {
      outcomes.push(skip(image.name, "not recorded as enrolled yet"));
    } else if (record.lastTrigger?.status === "sent" && record.lastTrigger.fingerprint === fingerprint) {
      outcomes.push(skip(image.name, `already triggered at ${record.lastTrigger.at} for these base digests`));
    } else {
      const outcome = await fire(image.name, trigger, deps);
      const lastTrigger: TriggerRecord = {
        fingerprint,
        at: options.now.toISOString(),
        status: outcome.action === "sent" ? "sent" : "failed",
        ...(outcome.action === "failed"
          ? { detail: outcome.error }
          : outcome.action === "sent" && outcome.link
            ? { detail: outcome.link }
            : {}),
      };
      await deps.store.saveEnrollment({ ...record, lastTrigger });
      outcomes.push(outcome);
    }
  }
  return outcomes;
}

async function fire(name: string, trigger: TriggerSpec, deps: TriggerDeps): Promise<TriggerOutcome> {
  let token: string;
  try {
    token = await deps.tokens(trigger.token);
  } catch (err) {
    const error = `token from ${describeToken(trigger.token)}: ${(err as Error).message}`;
    deps.log?.(`rebuild trigger for ${name} not sent: ${error}`);
    return { name, action: "failed", error };
  }
  try {
    const sent = await sendRebuildTrigger(deps.transport, trigger, token);
    deps.log?.(`rebuild triggered for ${name} via ${trigger.kind} ${safeUrl(trigger.url)} (${sent.status})`);
    return { name, action: "sent", ...(sent.link ? { link: sent.link } : {}) };
  } catch (err) {
    const error = redact(err instanceof Error ? err.message : String(err), token);
    deps.log?.(`rebuild trigger for ${name} failed: ${error}`);
    return { name, action: "failed", error };
  }
}
