/**
 * A lease in Table Storage so two overlapping runs never copy the same image twice: create the row, or take it over
 * with an ETag-conditional update once its lease has expired. Losing a race is a 409 or a 412, never a second owner.
 */
import type { TableClient } from "@azure/data-tables";
import { TABLES, type Tables } from "./tables";

export interface Lease {
  name: string;
  holder: string;
  expiresAt: number;
  /** Taken over from another holder whose lease ran out unreleased: that run died (or overran) mid-run. */
  tookOver?: true;
}

const status = (err: unknown) => (err as { statusCode?: number }).statusCode;

export class RunLock {
  constructor(
    private readonly tables: Tables,
    private readonly now: () => number = Date.now,
  ) {}

  private client(): TableClient {
    return this.tables.client(TABLES.locks);
  }

  /** Returns the lease when taken, or undefined when another holder's lease is still live. */
  async acquire(name: string, holder: string, ttlMs: number): Promise<Lease | undefined> {
    await this.tables.ensure();
    const expiresAt = this.now() + ttlMs;
    const entity = { partitionKey: "lock", rowKey: name, holder, expiresAt };
    try {
      const current = await this.client().getEntity<{ holder: string; expiresAt: number }>("lock", name);
      if (current.holder !== holder && Number(current.expiresAt) > this.now()) return undefined;
      await this.client().updateEntity(entity, "Replace", { etag: current.etag });
      return { name, holder, expiresAt, ...(current.holder !== holder ? { tookOver: true as const } : {}) };
    } catch (err) {
      if (status(err) === 404) {
        try {
          await this.client().createEntity(entity);
          return { name, holder, expiresAt };
        } catch (createErr) {
          if (status(createErr) === 409) return undefined;
          throw createErr;
        }
      }
      if (status(err) === 412) return undefined;
      throw err;
    }
  }

  /** Releases only our own lease; someone else's (taken after ours expired) is left alone. */
  async release(lease: Lease): Promise<void> {
    try {
      const current = await this.client().getEntity<{ holder: string }>("lock", lease.name);
      if (current.holder !== lease.holder) return;
      await this.client().deleteEntity("lock", lease.name, { etag: current.etag });
    } catch (err) {
      if (status(err) === 404 || status(err) === 412) return;
      throw err;
    }
  }
}
