/**
 * `GET /api/status` (Functions, Reader role) and `GET /api/` (the local server): the operator's status
 * page, one self-contained HTML document that reads the JSON API from the browser. No runtime needed to serve it.
 */
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML } from "../web/statusPage";
import type { ApiRequest, ApiResponse } from "./http";

export async function statusPage(_req: ApiRequest): Promise<ApiResponse> {
  return {
    status: 200,
    body: STATUS_PAGE_HTML,
    html: true,
    headers: {
      "content-security-policy": STATUS_PAGE_CSP,
      // Nothing of this page's URL goes to a linked site.
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
    },
  };
}
