/** `WWW-Authenticate` parsing (RFC 7235 auth-params), enough for the Basic and Bearer challenges registries send. */

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

const PARAM = /\s*([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/y;

export function parseChallenges(header: string | null): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  let rest = header.trim();
  while (rest) {
    const scheme = /^([A-Za-z][A-Za-z0-9_-]*)\s*/.exec(rest);
    if (!scheme?.[1]) break;
    rest = rest.slice(scheme[0].length);
    const params: Record<string, string> = {};
    PARAM.lastIndex = 0;
    let consumed = 0;
    for (let m = PARAM.exec(rest); m; m = PARAM.exec(rest)) {
      // A bare token followed by a space starts the next challenge, not a parameter.
      if (m[1] === undefined) break;
      params[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : (m[3] ?? "");
      consumed = PARAM.lastIndex;
    }
    rest = rest.slice(consumed).replace(/^[\s,]+/, "");
    out.push({ scheme: scheme[1].toLowerCase(), params });
  }
  return out;
}
