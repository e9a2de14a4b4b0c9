import { compileLinear, PatternRefusedError } from "../linearRegex";
import { TagPattern } from "./configTypes";

/**
 * Compiles a user regex anchored at both ends. Unanchored patterns are the classic mirror-config trap (`main` also
 * matching `main-latest`, `1.2` matching `11.2.0`), so like regsync we always match the whole tag; patterns already
 * written as `^…$` mean the same thing after wrapping. The engine is RE2's (linear time: a config, possibly fetched
 * from a URL, cannot stall a run); a pattern RE2 cannot run (backreferences, lookaround) is a config error.
 */
export function compileTagPattern(source: string): TagPattern | string {
  if (source === "") return "empty pattern";
  try {
    // Compile the text alone first: `a)(?:b` is invalid, yet would compile once wrapped.
    compileLinear(source);
    return { source, regex: compileLinear(`^(?:${source})$`) };
  } catch (err) {
    const reason = err instanceof PatternRefusedError ? err.message : "";
    return `invalid regular expression "${source.slice(0, 200)}"${reason ? `: ${reason}` : ""}`;
  }
}
