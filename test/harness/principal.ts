/**
 * Callers as App Service authentication presents them: `X-MS-CLIENT-PRINCIPAL` is base64 JSON with `auth_typ`,
 * `claims` (app roles as `roles` claims) and the claim types for name and role, as documented in
 * https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities#decoding-the-client-principal-header
 */
import type { Caller, Role } from "../../shared/api/auth";

export function clientPrincipal(roles: readonly string[], name = "someone@example.com"): string {
  const principal = {
    auth_typ: "aad",
    claims: [
      { typ: "name", val: name },
      {
        typ: "http://schemas.microsoft.com/identity/claims/objectidentifier",
        val: "00000000-0000-0000-0000-000000000001",
      },
      ...roles.map((val) => ({ typ: "roles", val })),
    ],
    name_typ: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    role_typ: "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
  };
  return Buffer.from(JSON.stringify(principal)).toString("base64");
}

export const caller = (...roles: Role[]): Caller => ({
  roles: new Set<Role>(roles.includes("Operator") ? [...roles, "Reader"] : roles),
});
export const READER = caller("Reader");
export const OPERATOR = caller("Operator");
