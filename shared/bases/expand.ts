/**
 * Variable expansion in one Dockerfile word, as BuildKit's shell lexer does it for FROM and `COPY --from`:
 * `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`, `${NAME:?message}`,
 * `${NAME?message}`, single quotes (literal), double quotes (expanding) and the escape character.
 *
 * dockerfile-ast finds instructions, arguments, continuations and comments; it does not apply the `:-`/`:+`
 * modifiers or quotes (its `getExpandedArguments` leaves `${V:-x}` as written), so this one step is ours.
 */

export class ExpandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExpandError";
  }
}

/** A variable's value, or undefined when it is not set (declared without a default and not passed). */
export type VariableLookup = (name: string) => string | undefined;

export interface Expanded {
  value: string;
  /** Variables that were used but not set, in order of first use: they expanded to "", as in Docker. */
  unset: string[];
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

class Lexer {
  private pos = 0;
  readonly unset: string[] = [];

  constructor(
    private readonly text: string,
    private readonly escape: string,
    private readonly lookup: VariableLookup,
  ) {}

  /** Reads until the end, or until an unquoted `}` when inside `${NAME:-…}` (`stopAtBrace`). */
  word(stopAtBrace: boolean): string {
    let out = "";
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos]!;
      if (stopAtBrace && ch === "}") return out;
      if (ch === this.escape) {
        this.pos++;
        // A trailing escape stays literal, as in BuildKit.
        out += this.pos < this.text.length ? this.text[this.pos++]! : ch;
      } else if (ch === "'") {
        out += this.singleQuoted();
      } else if (ch === '"') {
        out += this.doubleQuoted();
      } else if (ch === "$") {
        out += this.variable();
      } else {
        out += ch;
        this.pos++;
      }
    }
    if (stopAtBrace) throw new ExpandError(`missing "}" in "${this.text}"`);
    return out;
  }

  private singleQuoted(): string {
    const end = this.text.indexOf("'", this.pos + 1);
    if (end < 0) throw new ExpandError(`unterminated single quote in "${this.text}"`);
    const out = this.text.slice(this.pos + 1, end);
    this.pos = end + 1;
    return out;
  }

  private doubleQuoted(): string {
    let out = "";
    this.pos++;
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos]!;
      if (ch === '"') {
        this.pos++;
        return out;
      }
      if (ch === this.escape) {
        const next = this.text[this.pos + 1];
        // Inside double quotes the escape only protects `"`, `$` and itself, like a POSIX shell.
        if (next === '"' || next === "$" || next === this.escape) {
          out += next;
          this.pos += 2;
          continue;
        }
        out += ch;
        this.pos++;
      } else if (ch === "$") {
        out += this.variable();
      } else {
        out += ch;
        this.pos++;
      }
    }
    throw new ExpandError(`unterminated double quote in "${this.text}"`);
  }

  private name(): string {
    const start = this.pos;
    if (!NAME_START.test(this.text[this.pos] ?? "")) return "";
    while (NAME_CHAR.test(this.text[this.pos] ?? "")) this.pos++;
    return this.text.slice(start, this.pos);
  }

  private value(name: string): string | undefined {
    const value = this.lookup(name);
    if (value === undefined && !this.unset.includes(name)) this.unset.push(name);
    return value;
  }

  private variable(): string {
    this.pos++; // the `$`
    if (this.text[this.pos] !== "{") {
      const name = this.name();
      // A `$` not followed by a name is a literal dollar.
      return name ? (this.value(name) ?? "") : "$";
    }
    this.pos++; // the `{`
    const name = this.name();
    if (!name) throw new ExpandError(`"\${" must be followed by a variable name in "${this.text}"`);
    if (this.text[this.pos] === "}") {
      this.pos++;
      return this.value(name) ?? "";
    }
    if (this.pos >= this.text.length) throw new ExpandError(`missing "}" in "${this.text}"`);
    const colon = this.text[this.pos] === ":";
    if (colon) this.pos++;
    const modifier = this.text[this.pos];
    if (modifier !== "-" && modifier !== "+" && modifier !== "?") {
      const shown = `${colon ? ":" : ""}${modifier ?? ""}`;
      throw new ExpandError(`unsupported substitution "\${${name}${shown}…}" in "${this.text}"`);
    }
    this.pos++;
    const set = this.lookup(name);
    const present = colon ? set !== undefined && set !== "" : set !== undefined;
    // The word is expanded even when it is not used, so a syntax error in it is still an error; only a word that is
    // used can leave a variable unset.
    const unsetBefore = this.unset.length;
    const word = this.word(true);
    this.pos++; // the `}`
    const used = modifier === "-" ? !present : modifier === "+" ? present : !present;
    if (!used) this.unset.length = unsetBefore;
    switch (modifier) {
      case "-":
        return present ? set! : word;
      case "+":
        return present ? word : "";
      default:
        if (!present) throw new ExpandError(`${name}: ${word || "is not set"}`);
        return set!;
    }
  }
}

/** Expands one word. `escape` is the Dockerfile's escape character (`\` or a backtick from `# escape=`). */
export function expandWord(text: string, lookup: VariableLookup, escape = "\\"): Expanded {
  const lexer = new Lexer(text, escape, lookup);
  const value = lexer.word(false);
  return { value, unset: lexer.unset };
}
