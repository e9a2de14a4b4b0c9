/**
 * The base images of a Dockerfile: every FROM (and `COPY --from=<image>`), with global ARG defaults substituted,
 * stages told apart from images, `scratch` dropped and digests kept. dockerfile-ast does the reading (instructions,
 * line continuations, comments, the escape directive, flags); this module applies Docker's rules on top and turns
 * what Docker would refuse into errors that name the line.
 */
import { DockerfileParser, type Arg, type Copy, type From, type Instruction } from "dockerfile-ast";
import { InvalidReferenceError } from "../registry/reference";
import { ExpandError, expandWord, type VariableLookup } from "./expand";
import { fullName, parseImageName, watchKey, type ImageName } from "./imageName";

export interface DockerfileIssue {
  file: string;
  /** 1-based. */
  line: number;
  detail: string;
}

/** Every problem found in one pass, in line order, each as `file:line: detail`. */
export class DockerfileError extends Error {
  readonly issues: readonly DockerfileIssue[];

  constructor(issues: readonly DockerfileIssue[]) {
    const sorted = [...issues].sort((a, b) => a.line - b.line);
    super(sorted.map((i) => `${i.file}:${i.line}: ${i.detail}`).join("\n"));
    this.name = "DockerfileError";
    this.issues = sorted;
  }
}

export interface BaseUse {
  /** 1-based line of the instruction. */
  line: number;
  via: "from" | "copy";
  /** The stage this FROM starts (its `AS` name), or the stage a COPY is in. */
  stage: number;
  stageName?: string;
  /** The `--platform` value, expanded when its variables are known, else as written (`$BUILDPLATFORM`). */
  platform?: string;
}

/** An image the build pulls. */
export interface DockerfileBase extends ImageName {
  /** `watchKey`: `registry/repository:tag`, or `registry/repository@digest` for a digest alone. */
  key: string;
  /** Every part: `registry/repository[:tag][@digest]`. */
  ref: string;
  /** The first use, as written in the file (before substitution). */
  written: string;
  uses: BaseUse[];
}

export type StageBase = { kind: "image"; key: string } | { kind: "stage"; index: number } | { kind: "scratch" };

export interface DockerfileStage {
  index: number;
  name?: string;
  line: number;
  base: StageBase;
}

export interface ParsedDockerfile {
  file: string;
  stages: DockerfileStage[];
  /** External images in order of first use, one per key. */
  bases: DockerfileBase[];
  /** The image at the root of the last stage (what the built image's layers start with), unless that is scratch. */
  finalBase?: string;
}

export interface ParseOptions {
  /** Shown in errors. */
  file?: string;
  /** `--build-arg` values: they override ARG defaults, and set the automatic platform arguments. */
  buildArgs?: Readonly<Record<string, string>>;
}

const KEYWORDS = new Set([
  "ADD",
  "ARG",
  "CMD",
  "COPY",
  "ENTRYPOINT",
  "ENV",
  "EXPOSE",
  "FROM",
  "HEALTHCHECK",
  "LABEL",
  "MAINTAINER",
  "ONBUILD",
  "RUN",
  "SHELL",
  "STOPSIGNAL",
  "USER",
  "VOLUME",
  "WORKDIR",
]);
// BuildKit defines these in the global scope without an ARG; their values are only known at build time.
const AUTOMATIC_ARGS = new Set([
  "TARGETPLATFORM",
  "TARGETOS",
  "TARGETARCH",
  "TARGETVARIANT",
  "BUILDPLATFORM",
  "BUILDOS",
  "BUILDARCH",
  "BUILDVARIANT",
]);
// BuildKit's rule for stage names.
const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

class Reader {
  readonly issues: DockerfileIssue[] = [];
  readonly stages: DockerfileStage[] = [];
  readonly bases = new Map<string, DockerfileBase>();
  private readonly globals = new Map<string, string | undefined>();

  constructor(
    private readonly file: string,
    private readonly escape: string,
    private readonly buildArgs: Readonly<Record<string, string>>,
  ) {}

  fail(instruction: Instruction | number, detail: string): undefined {
    const line = typeof instruction === "number" ? instruction : lineOf(instruction);
    this.issues.push({ file: this.file, line, detail });
    return undefined;
  }

  /** Global scope: ARGs before the first FROM (a later ARG never reaches a FROM), then the automatic ones. */
  private readonly lookup: VariableLookup = (name) => {
    if (this.globals.has(name)) return this.globals.get(name);
    return AUTOMATIC_ARGS.has(name) ? this.buildArgs[name] : undefined;
  };

  globalArg(arg: Arg): void {
    const properties = arg.getProperties();
    if (properties.length === 0) {
      this.fail(arg, "ARG needs a name");
      return;
    }
    for (const property of properties) {
      const name = property.getName();
      const raw = property.getUnescapedValue();
      if (Object.hasOwn(this.buildArgs, name)) {
        this.globals.set(name, this.buildArgs[name]);
        continue;
      }
      if (raw === null) {
        this.globals.set(name, undefined);
        continue;
      }
      try {
        // A default may use the ARGs declared before it: `ARG IMAGE=node:${NODE_VERSION}`.
        this.globals.set(name, expandWord(raw, this.lookup, this.escape).value);
      } catch (err) {
        this.fail(arg, `ARG ${name}: ${(err as Error).message}`);
      }
    }
  }

  /** Expands a word; undefined (with an issue) when it cannot be, `unset` names the variables that had no value. */
  private expand(at: Instruction, written: string, what: string): { value: string; unset: string[] } | undefined {
    try {
      return expandWord(written, this.lookup, this.escape);
    } catch (err) {
      if (err instanceof ExpandError) return this.fail(at, `${what} "${written}": ${err.message}`);
      throw err;
    }
  }

  private stageByName(name: string): DockerfileStage | undefined {
    return this.stages.find((s) => s.name === name.toLowerCase());
  }

  /** Resolves an expanded image word to scratch, an earlier stage, or an image (recorded as a base). */
  private resolve(at: Instruction, written: string, use: Omit<BaseUse, "line">): StageBase | undefined {
    const what = use.via === "from" ? "FROM" : "COPY --from";
    const expanded = this.expand(at, written, what);
    if (!expanded) return undefined;
    const { value, unset } = expanded;
    const hint = unset.length
      ? `: ${unset.map((n) => `ARG ${n}`).join(", ")} ${unset.length > 1 ? "have" : "has"} no value (give a default, or set buildArgs.${unset[0]})`
      : "";
    if (value === "") return this.fail(at, `${what} "${written}" expands to an empty image name${hint}`);
    if (use.via === "from" && value === "scratch") return { kind: "scratch" };
    const stage = this.stageByName(value);
    if (stage) return { kind: "stage", index: stage.index };
    if (use.via === "copy" && /^\d+$/.test(value)) {
      const index = Number(value);
      if (index < use.stage) return { kind: "stage", index };
      return this.fail(at, `COPY --from=${value} names stage ${index}, which is not an earlier stage`);
    }
    let name: ImageName;
    try {
      name = parseImageName(value);
    } catch (err) {
      if (!(err instanceof InvalidReferenceError)) throw err;
      const shown = value === written ? `"${written}"` : `"${written}" (expands to "${value}")`;
      return this.fail(
        at,
        `${what} ${shown} is not a valid image reference: ${err.message.replace(/^invalid image reference "[^"]*": /, "")}${hint}`,
      );
    }
    const key = watchKey(name);
    const line = lineOf(at);
    const existing = this.bases.get(key);
    if (existing) existing.uses.push({ line, ...use });
    else this.bases.set(key, { ...name, key, ref: fullName(name), written, uses: [{ line, ...use }] });
    return { kind: "image", key };
  }

  from(from: From): void {
    const index = this.stages.length;
    let ok = true;
    let platform: string | undefined;
    for (const flag of from.getFlags()) {
      if (flag.getName() !== "platform") {
        this.fail(from, `unknown flag --${flag.getName()} on FROM (only --platform is allowed)`);
        ok = false;
        continue;
      }
      const value = flag.getValue();
      if (!value) {
        this.fail(from, "--platform needs a value, e.g. --platform=linux/amd64 or --platform=$BUILDPLATFORM");
        ok = false;
        continue;
      }
      const expanded = this.expand(from, value, "--platform");
      if (!expanded) ok = false;
      // `$BUILDPLATFORM` stays as written: it says what the build does, and its value is not ours to guess.
      else platform = expanded.unset.length ? value : expanded.value;
    }
    const args = from.getArguments().map((a) => a.getValue());
    const [image, as, stageName] = args;
    if (image === undefined) {
      this.fail(from, "FROM needs an image: FROM [--platform=…] <image> [AS <name>]");
      return;
    }
    if (args.length !== 1 && !(args.length === 3 && as?.toUpperCase() === "AS")) {
      const comment = args.slice(1).some((a) => a.startsWith("#")) ? " (a comment must be on a line of its own)" : "";
      this.fail(from, `expected FROM [--platform=…] <image> [AS <name>], got "${args.join(" ")}"${comment}`);
      return;
    }
    const name = stageName?.toLowerCase();
    if (name !== undefined) {
      const earlier = this.stageByName(name);
      if (!STAGE_NAME.test(name)) {
        this.fail(from, `"${stageName}" is not a valid stage name (a letter, then letters, digits, - _ .)`);
        ok = false;
      } else if (earlier) {
        this.fail(from, `stage name "${name}" is already used on line ${earlier.line}`);
        ok = false;
      }
    }
    const base = this.resolve(from, image, {
      via: "from",
      stage: index,
      ...(name !== undefined ? { stageName: name } : {}),
      ...(platform !== undefined ? { platform } : {}),
    });
    if (!base || !ok) {
      // Keep the stage so that later stage references and indexes still line up.
      this.stages.push({ index, line: lineOf(from), base: { kind: "scratch" }, ...(name ? { name } : {}) });
      return;
    }
    this.stages.push({ index, line: lineOf(from), base, ...(name !== undefined ? { name } : {}) });
  }

  copy(copy: Copy): void {
    const flag = copy.getFromFlag();
    const stage = this.stages.at(-1);
    if (!flag || !stage) return;
    const value = flag.getValue();
    if (!value) {
      this.fail(copy, "COPY --from needs a stage name, a stage index or an image");
      return;
    }
    this.resolve(copy, value, { via: "copy", stage: stage.index, ...(stage.name ? { stageName: stage.name } : {}) });
  }

  /** Names a stage defined later: Docker refuses it, and it would otherwise be read as an image of that name. */
  checkForwardReferences(froms: readonly From[]): void {
    froms.forEach((from, index) => {
      const stage = this.stages[index];
      const image = from.getArguments()[0]?.getValue();
      if (!stage || stage.base.kind !== "image" || image === undefined) return;
      const later = this.stages.find((s) => s.index > index && s.name === image.toLowerCase());
      if (later)
        this.fail(from, `FROM ${image} names stage "${later.name}", which is defined later (line ${later.line})`);
    });
  }

  finalBase(): string | undefined {
    let stage = this.stages.at(-1);
    for (let hops = 0; stage && hops <= this.stages.length; hops++) {
      const base: StageBase = stage.base;
      if (base.kind === "image") return base.key;
      if (base.kind === "scratch") return undefined;
      stage = this.stages[base.index];
    }
    return undefined;
  }
}

function lineOf(instruction: Instruction): number {
  return instruction.getRange().start.line + 1;
}

/** Parses a Dockerfile's text. Throws DockerfileError listing every problem found. */
export function parseDockerfile(text: string, options: ParseOptions = {}): ParsedDockerfile {
  const file = options.file ?? "Dockerfile";
  const dockerfile = DockerfileParser.parse(text);
  const reader = new Reader(file, dockerfile.getEscapeCharacter(), options.buildArgs ?? {});
  const froms: From[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword();
    if (!KEYWORDS.has(keyword)) {
      reader.fail(instruction, `unknown instruction "${instruction.getInstruction()}"`);
      continue;
    }
    if (keyword === "FROM") {
      const from = instruction as From;
      froms.push(from);
      reader.from(from);
    } else if (froms.length === 0) {
      if (keyword === "ARG") reader.globalArg(instruction as Arg);
      else reader.fail(instruction, `${keyword} before the first FROM (only ARG may come before FROM)`);
    } else if (keyword === "COPY") {
      reader.copy(instruction as Copy);
    }
  }
  if (froms.length === 0 && reader.issues.length === 0) reader.fail(1, "no FROM instruction");
  reader.checkForwardReferences(froms);
  if (reader.issues.length > 0) throw new DockerfileError(reader.issues);
  const finalBase = reader.finalBase();
  return {
    file,
    stages: reader.stages,
    bases: [...reader.bases.values()],
    ...(finalBase !== undefined ? { finalBase } : {}),
  };
}
