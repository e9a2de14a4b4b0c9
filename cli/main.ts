#!/usr/bin/env node
/** The command-line entry: the same domain code the functions call, wired to argv, files and the terminal. */
import { Command, InvalidArgumentError } from "commander";
import { localDockerCredentials } from "../shared/secrets/localDockerConfig";
import { EXIT, runCopy, type Output } from "./copyCommand";
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

/** Builds the program; actions report their exit code through `setExit`. */
export function buildProgram(out: Output, setExit: (code: number) => void): Command {
  const program = new Command("acr-image-sync")
    .description("Mirror container images into Azure Container Registry by digest, and trace what runs where.")
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.stdout(s.trimEnd()), writeErr: (s) => out.stderr(s.trimEnd()) });

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
            out,
          ),
        );
      },
    );
  registerTraceCommands(program, out, setExit, localDockerCredentials);
  registerSyncCommands(program, out, setExit);
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
