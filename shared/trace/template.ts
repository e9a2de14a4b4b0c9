/**
 * ARO-HCP style config files are Go templates that only become YAML once rendered, and we never render them:
 * image fields hold no templates, and rendering needs EV2 data we do not have. Each `{{ … }}` becomes a placeholder
 * word that is valid in any YAML scalar position (plain, single- or double-quoted, key or value), so the raw file
 * parses; `restoreTemplates` then puts the original text back, as ARO-Tools' wrap/unwrap does.
 */

import { randomBytes } from "node:crypto";

export interface NeutralisedText {
  text: string;
  /** Original expressions, indexed by the number in their placeholder. */
  templates: readonly string[];
  /** Placeholder prefix, chosen so it does not occur in the source. */
  stem: string;
}

/**
 * One left-to-right scan, linear in the file: each `{{` pairs with the next `}}` (as the non-greedy `{{[\s\S]*?}}`
 * did, spanning lines as Go actions may), and once no `}}` is left no later `{{` can pair either, so the scan stops
 * instead of searching the rest of the file again for every `{{` (the quadratic case: 120 KB of `{{` took 12 s).
 * The placeholder stem carries a random part, so finding one absent from the file costs one search, not one per
 * underscore an attacker put after `__tpl`.
 */
/** ARO-HCP's largest config has 262 expressions; a file with 20,000 is not a config, and costs the scan time. */
export const MAX_TEMPLATES = 20_000;

export class TooManyTemplatesError extends Error {
  constructor() {
    super(`more than ${MAX_TEMPLATES} template expressions`);
    this.name = "TooManyTemplatesError";
  }
}

export function neutraliseTemplates(source: string): NeutralisedText {
  let stem: string;
  do stem = `__tpl${randomBytes(6).toString("hex")}_`;
  while (source.includes(stem));
  const templates: string[] = [];
  const parts: string[] = [];
  let from = 0;
  for (;;) {
    const open = source.indexOf("{{", from);
    if (open < 0) break;
    const close = source.indexOf("}}", open + 2);
    if (close < 0) break;
    if (templates.length === MAX_TEMPLATES) throw new TooManyTemplatesError();
    parts.push(source.slice(from, open), `${stem}${templates.length}__`);
    templates.push(source.slice(open, close + 2));
    from = close + 2;
  }
  parts.push(source.slice(from));
  return { text: parts.join(""), templates, stem };
}

/** Replaces placeholders in every string and key of a parsed value with the template text they stood for. */
export function restoreTemplates(value: unknown, neutralised: NeutralisedText): unknown {
  if (neutralised.templates.length === 0) return value;
  const pattern = new RegExp(`${neutralised.stem}(\\d+)__`, "g");
  const restoreString = (s: string): string =>
    s.replace(pattern, (whole, index: string) => neutralised.templates[Number(index)] ?? whole);
  const walk = (node: unknown): unknown => {
    if (typeof node === "string") return restoreString(node);
    if (Array.isArray(node)) return node.map(walk);
    if (node !== null && typeof node === "object") {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) {
        // defineProperty, not assignment: a "__proto__" key must stay data, never become a prototype.
        Object.defineProperty(out, restoreString(key), {
          value: walk(child),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    return node;
  };
  return walk(value);
}
