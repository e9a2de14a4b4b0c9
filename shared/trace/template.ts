/**
 * ARO-HCP style config files are Go templates that only become YAML once rendered, and we never render them:
 * image fields hold no templates, and rendering needs EV2 data we do not have. Each `{{ … }}` becomes a placeholder
 * word that is valid in any YAML scalar position (plain, single- or double-quoted, key or value), so the raw file
 * parses; `restoreTemplates` then puts the original text back, as ARO-Tools' wrap/unwrap does.
 */

export interface NeutralisedText {
  text: string;
  /** Original expressions, indexed by the number in their placeholder. */
  templates: readonly string[];
  /** Placeholder prefix, chosen so it does not occur in the source. */
  stem: string;
}

// Non-greedy and allowed to span lines: Go actions may, and text/template would also pair a stray `{{` with the
// next `}}`.
const TEMPLATE = /\{\{[\s\S]*?\}\}/g;

export function neutraliseTemplates(source: string): NeutralisedText {
  let stem = "__tpl";
  while (source.includes(stem)) stem += "_";
  const templates: string[] = [];
  const text = source.replace(TEMPLATE, (expression) => {
    templates.push(expression);
    return `${stem}${templates.length - 1}__`;
  });
  return { text, templates, stem };
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
