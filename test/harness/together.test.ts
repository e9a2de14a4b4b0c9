import { describe, expect, it } from "vitest";
import { startTogether } from "./together";

describe("startTogether", () => {
  it("stops the servers that started when another fails to start, then rethrows its error", async () => {
    const stopped: string[] = [];
    const server = (name: string) => Promise.resolve({ stop: async () => void stopped.push(name) });
    await expect(startTogether(server("a"), Promise.reject(new Error("port taken")), server("b"))).rejects.toThrow(
      "port taken",
    );
    expect(stopped.sort()).toEqual(["a", "b"]);
  });

  it("hands back every server, in order, when all start", async () => {
    const [a, b] = await startTogether(
      Promise.resolve({ name: "a", stop: async () => {} }),
      Promise.resolve({ name: "b", stop: async () => {} }),
    );
    expect([a.name, b.name]).toEqual(["a", "b"]);
  });
});
