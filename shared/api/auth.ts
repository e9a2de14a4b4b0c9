/**
 * Who may call what. Reads (status page, images, runs, traces, health) need the `Reader` app role, writes (sync,
 * and any future mirror or retention route) `Operator`, which includes Reader.
 *
 * In Azure the caller is whoever App Service authentication (Entra ID) signed in: the platform puts the signed-in
 * principal in `X-MS-CLIENT-PRINCIPAL` (base64 JSON with `claims`; app roles are claims of type `roles`), and strips
 * that header from external requests, so it is present only when the platform set it:
 * https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities
 * The local server has its own callers (loopback, and a token for writes): see server.ts.
 */
import { HttpError } from "./http";

export type Role = "Reader" | "Operator";
export const ROLES: readonly Role[] = ["Reader", "Operator"];

export interface Caller {
  roles: ReadonlySet<Role>;
}

/** A principal header is a few KiB at most; a bigger one is refused before it is decoded. */
const MAX_PRINCIPAL_CHARS = 32 * 1024;

/** The roles the platform's client principal carries (Operator implies Reader); none when it cannot be read. */
export function callerFromClientPrincipal(header: string | null | undefined): Caller | undefined {
  if (!header || header.length > MAX_PRINCIPAL_CHARS) return undefined;
  let principal: unknown;
  try {
    principal = JSON.parse(Buffer.from(header, "base64").toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof principal !== "object" || principal === null) return undefined;
  const { claims, role_typ: roleType } = principal as { claims?: unknown; role_typ?: unknown };
  if (!Array.isArray(claims)) return undefined;
  const roles = new Set<Role>();
  for (const claim of claims as unknown[]) {
    if (typeof claim !== "object" || claim === null) continue;
    const { typ, val } = claim as { typ?: unknown; val?: unknown };
    const isRole = typ === "roles" || (typeof roleType === "string" && typ === roleType);
    if (isRole && typeof val === "string" && (ROLES as readonly string[]).includes(val)) roles.add(val as Role);
  }
  if (roles.has("Operator")) roles.add("Reader");
  return { roles };
}

/** 401 without a caller, 403 without the role; the message names the role, never the caller's claims. */
export function requireRole(caller: Caller | undefined, role: Role): void {
  if (!caller) throw new HttpError(401, "Unauthenticated", "sign in: this route needs the Reader or Operator app role");
  if (!caller.roles.has(role)) throw new HttpError(403, "Forbidden", `this route needs the ${role} app role`);
}
