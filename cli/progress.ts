/**
 * Copy progress for people: plain lines when the output is a log or a pipe, one live bar per image on a terminal.
 */
import type { CopyProgress } from "../shared/registry/copy";

export function progressLine(e: CopyProgress): string {
  switch (e.type) {
    case "walk":
      return `walk ${e.manifests} manifests, ${e.blobs} blobs, ${formatBytes(e.bytes)}`;
    case "blob":
      return `blob ${e.digest.slice(7, 19)} ${formatBytes(e.size).padStart(10)} ${e.action}`;
    case "manifest":
      return `manifest ${e.digest.slice(7, 19)} ${e.action}`;
    case "tag":
      return `tag ${e.tag} ${e.action}`;
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

interface Bar {
  blobs: number;
  done: number;
  bytes: number;
  doneBytes: number;
  finished?: string;
}

/** Redraws one line per image in place (ANSI cursor-up), finished images first, at most ~10 times a second. */
export class ProgressBars {
  private readonly bars = new Map<string, Bar>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (text: string) => void,
    private readonly width = 24,
  ) {}

  event(key: string, e: CopyProgress): void {
    const bar = this.bars.get(key) ?? { blobs: 0, done: 0, bytes: 0, doneBytes: 0 };
    this.bars.set(key, bar);
    if (e.type === "walk") Object.assign(bar, { blobs: e.blobs, bytes: e.bytes });
    else if (e.type === "blob") {
      bar.done++;
      bar.doneBytes += e.size;
    } else if (e.type === "tag" && e.action === "written") bar.finished = "tagged";
    this.schedule();
  }

  finish(key: string, outcome: string): void {
    const bar = this.bars.get(key) ?? { blobs: 0, done: 0, bytes: 0, doneBytes: 0 };
    bar.finished = outcome;
    this.bars.set(key, bar);
    this.schedule();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.draw();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, 100);
  }

  private draw(): void {
    const lines = [...this.bars].map(([key, b]) => {
      const ratio = b.bytes > 0 ? b.doneBytes / b.bytes : b.blobs > 0 ? b.done / b.blobs : b.finished ? 1 : 0;
      const filled = Math.round(Math.min(1, ratio) * this.width);
      const bar = `${"#".repeat(filled)}${"-".repeat(this.width - filled)}`;
      return `[${bar}] ${String(b.done).padStart(3)}/${String(b.blobs).padEnd(3)} ${formatBytes(b.doneBytes).padStart(9)} ${key}${b.finished ? `  ${b.finished}` : ""}`;
    });
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : "";
    this.write(up + lines.map((l) => `\x1b[2K${l}\n`).join(""));
    this.drawn = lines.length;
  }
}
