import { TagPattern } from "./configTypes";

/**
 * Compiles a user regex anchored at both ends. Unanchored patterns are the classic mirror-config trap (`main` also
 * matching `main-latest`, `1.2` matching `11.2.0`), so like regsync we always match the whole tag; patterns already
 * written as `^…$` mean the same thing after wrapping. No flags: tags are ASCII and the `u` flag would reject common
 * escapes such as `\-`.
 */
export function compileTagPattern(source: string): TagPattern | string {
  if (source === "") return "empty pattern";
  try {
    // Compile the text alone first: `a)(?:b` is invalid, yet would compile once wrapped.
    new RegExp(source);
    return { source, regex: new RegExp(`^(?:${source})$`) };
  } catch (err) {
    // Report the engine's reason against the user's text, not against our wrapper.
    const reason = err instanceof Error ? err.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, "") : "";
    return `invalid regular expression "${source}"${reason ? `: ${reason}` : ""}`;
  }
}
