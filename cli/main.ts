#!/usr/bin/env node
/** The command-line entry: the same domain code the functions call, wired to argv, files and the terminal. */
import { Command, InvalidArgumentError } from "commander";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { localDockerCredentials } from "../shared/secrets/localDockerConfig";
import { EXIT, runCopy, type Output } from "./copyCommand";
import { registerInitCommand } from "./initCommand";
import { LOCAL_SETTINGS_FILE } from "./localSettings";
import { localDataDir } from "./localStore";
import { registerMirrorCommand } from "./mirrorCommand";
import { registerSyncCommands } from "./syncCommands";
import { registerTraceCommands } from "./traceCommand";

const console_: Output = {
  stdout: (l) => process.stdout.write(l + "\n"),
  stderr: (l) => process.stderr.write(l + "\n"),
};

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

/** The version in package.json, found upward from this file (it sits in cli/ or dist/cli/). */
export function packageVersion(): string {
  for (let dir = __dirname, i = 0; i < 4; dir = dirname(dir), i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "acr-image-sync" && pkg.version) return pkg.version;
    } catch {
      // not here; look one folder up
    }
  }
  return "unknown";
}

/** Builds the program; actions report their exit code through `setExit`. */
export function buildProgram(out: Output, setExit: (code: number) => void): Command {
  // `--quiet`: what `copy`, `trace`, `diff` and `init` print is dropped unless it is JSON output, and only errors reach
  // stderr (plan, sync, status and serve apply the same rule themselves).
  let quiet: { json: boolean } | undefined;
  const commandOut: Output = {
    stdout: (line) => {
      if (!quiet || quiet.json) out.stdout(line);
    },
    stderr: (line) => {
      if (!quiet || line.startsWith("error")) out.stderr(line);
    },
  };
  const program = new Command("acr-image-sync")
    .description("Mirror container images into Azure Container Registry by digest, and trace what runs where.")
    .version(packageVersion(), "-V, --version", "print the version")
    .option("-q, --quiet", "print only errors and --json output; the exit code tells the rest")
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.stdout(s.trimEnd()), writeErr: (s) => out.stderr(s.trimEnd()) })
    .addHelpText(
      "after",
      [
        "",
        `Settings: ${LOCAL_SETTINGS_FILE} "Values" in the working directory, then the environment (which wins).`,
        "State: Table Storage when TABLES_ENDPOINT or TABLES_CONNECTION_STRING is set; otherwise a local store",
        `(Azurite, started and stopped by each command) in ${localDataDir()}`,
        "($XDG_DATA_HOME/acr-image-sync or ~/.local/share/acr-image-sync).",
        "Exit codes: 0 ok, 1 some work failed, 2 bad input, 3 outdated or error rows remain (with --exit-code).",
      ].join("\n"),
    );

  program
    .command("copy")
    .description("copy one image (a whole multi-arch index, byte for byte) from a source to a target repository")
    .argument("<source>", "source reference: repo[:tag][@digest], e.g. ghcr.io/org/app:v1")
    .argument("<target>", "target repository, optionally with a tag: myacr.azurecr.io/mirror/app[:tag]")
    .option("-t, --tag <tag...>", "tags to write on the target (default: the target's tag, else the source tag)", [])
    .option("-c, --concurrency <n>", "blob transfers at once", positiveInt, 4)
    .option("--plain-http <host...>", "hosts to reach over http (loopback always is)", [])
    .action(
      async (source: string, target: string, opts: { tag: string[]; concurrency: number; plainHttp: string[] }) => {
        setExit(
          await runCopy(
            {
              source,
              target,
              tags: opts.tag,
              concurrency: opts.concurrency,
              plainHttp: opts.plainHttp,
              credentials: await localDockerCredentials(),
            },
            commandOut,
          ),
        );
      },
    );
  program.hook("preAction", (_program, action) => {
    // copy's stdout is its JSON result.
    const json = action.name() === "copy" || Boolean((action.opts() as { json?: boolean }).json);
    if ((program.opts() as { quiet?: boolean }).quiet) quiet = { json };
  });
  registerTraceCommands(program, commandOut, setExit, localDockerCredentials);
  registerSyncCommands(program, out, setExit);
  registerInitCommand(program, commandOut, setExit);
  registerMirrorCommand(program, out, setExit, localDockerCredentials);
  return program;
}

/** Runs the CLI and returns its exit code: 0 ok, 1 some work failed, 2 bad input. */
export async function runCli(argv: string[], out: Output = console_): Promise<number> {
  let exit: number = EXIT.ok;
  try {
    await buildProgram(out, (code) => (exit = code)).parseAsync(argv);
    return exit;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "commander.helpDisplayed" || code === "commander.version" || code === "commander.help") return EXIT.ok;
    if (code?.startsWith("commander.")) return EXIT.badInput;
    out.stderr(`error: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  void runCli(process.argv).then((code) => {
    process.exitCode = code;
  });
}
