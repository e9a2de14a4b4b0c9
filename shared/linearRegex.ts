/**
 * Regular expressions that come from input (a config's `allow`/`deny`, a schema's `patternProperties`) run on RE2's
 * linear-time engine (re2js: a pure JavaScript port, no native build), never on V8's backtracking one, where
 * `^(a+)+$` against thirty `a`s and a `!` takes seconds to minutes and blocks the whole instance. RE2 refuses what it
 * cannot run in linear time (backreferences, lookaround); such a pattern is refused here too, with the reason.
 */
import { RE2JS } from "re2js";

/** What callers need from a compiled pattern; RegExp has the same method, so tests can compare both. */
export interface LinearPattern {
  test(input: string): boolean;
}

/** Patterns are short; a very long one is a mistake or an attack on the compiler. */
export const MAX_PATTERN_CHARS = 1000;

export class PatternRefusedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "PatternRefusedError";
  }
}

/** Compiles `source` for unanchored search (as `RegExp#test`), or throws PatternRefusedError saying why. */
export function compileLinear(source: string): LinearPattern {
  if (source.length > MAX_PATTERN_CHARS) throw new PatternRefusedError(`longer than ${MAX_PATTERN_CHARS} characters`);
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(source);
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^error parsing regexp: /, "") : String(err);
    throw new PatternRefusedError(reason);
  }
  return { test: (input: string) => compiled.test(input) };
}
