/**
 * Starts servers side by side; when one fails to start, stops the others before rethrowing, so a failed
 * `beforeAll` (a port taken between freePort and listen, say) leaves no registry running behind it.
 */
export async function startTogether<T extends readonly Promise<{ stop(): Promise<void> }>[]>(
  ...starting: T
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(starting);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await Promise.all(
      settled.map((s) => (s.status === "fulfilled" ? s.value.stop().catch(() => undefined) : undefined)),
    );
    throw failed.reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}
