/**
 * Copies one image in a process of its own and prints its own peak RSS, so the figure is the copy's alone and not
 * the seeding's (the benchmark builds large layers in its own process before this runs).
 */
import { RegistryClient } from "../shared/registry/client";
import { copyImage } from "../shared/registry/copy";
import { parseReference } from "../shared/registry/reference";
import { Transport } from "../shared/registry/transport";

async function main(): Promise<void> {
  const [sourceArg, targetArg] = process.argv.slice(2);
  if (!sourceArg || !targetArg) throw new Error("usage: copyOne <source:tag> <target-repository>");
  const source = parseReference(sourceArg);
  const target = parseReference(targetArg);
  // Sampled rather than read from resourceUsage().maxRSS: a spawned child inherits its parent's high-water mark.
  // memoryUsage.rss() reads the RSS alone; the full memoryUsage() also walks the V8 heap, and 100 times a second
  // that cost ~80 ms of CPU over a 1 GiB copy, taken from the copy it measures.
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  const started = performance.now();
  const result = await copyImage(
    new RegistryClient(new Transport()),
    { registry: source.registry, repository: source.repository, tag: source.tag ?? "latest" },
    { registry: target.registry, repository: target.repository },
    [source.tag ?? "latest"],
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const peakRssMiB = Math.max(peak, process.memoryUsage.rss()) / (1024 * 1024);
  process.stdout.write(JSON.stringify({ seconds, peakRssMiB, bytes: result.bytes, requests: result.requests }) + "\n");
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
