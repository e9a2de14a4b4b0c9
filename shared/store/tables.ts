/**
 * Table clients for every table the app uses: an endpoint with a token credential in Azure (shared keys are off),
 * a connection string only for Azurite.
 */
import type { PipelinePolicy } from "@azure/core-rest-pipeline";
import { TableClient, TableServiceClient, type TableEntity } from "@azure/data-tables";
import type { TokenCredential } from "@azure/identity";

export const TABLES = {
  runs: "SyncRuns",
  results: "SyncResults",
  status: "ImageStatus",
  traces: "Traces",
  labels: "Labels",
  locks: "RunLock",
  limits: "RegistryLimits",
  bases: "BaseImages",
  retention: "Retention",
} as const;
export type TableName = (typeof TABLES)[keyof typeof TABLES];

export type TableConfig = ({ connectionString: string } | { endpoint: string; credential: TokenCredential }) & {
  /** Prepended to every table name, so several deployments (or tests) can share one account. Letters and digits. */
  prefix?: string;
  /** Called once per HTTP request on the wire (each retry too): how tests and benchmarks count Table operations. */
  onRequest?: (request: TableRequest) => void;
};

export interface TableRequest {
  table: string;
  method: string;
  url: string;
}

export class Tables {
  private readonly clients = new Map<string, TableClient>();
  private ensured: Promise<void> | undefined;

  constructor(private readonly config: TableConfig) {
    if (config.prefix !== undefined && !/^[A-Za-z][A-Za-z0-9]{0,30}$/.test(config.prefix))
      throw new Error(`table prefix "${config.prefix}" must be a letter then up to 30 letters or digits`);
  }

  client(name: TableName): TableClient {
    let client = this.clients.get(name);
    if (!client) {
      const table = `${this.config.prefix ?? ""}${name}`;
      const onRequest = this.config.onRequest;
      const counting = onRequest
        ? {
            additionalPolicies: [
              {
                position: "perRetry" as const,
                policy: {
                  name: "countTableRequests",
                  sendRequest: (req, next) => {
                    onRequest({ table, method: req.method, url: req.url });
                    return next(req);
                  },
                } satisfies PipelinePolicy,
              },
            ],
          }
        : {};
      client =
        "connectionString" in this.config
          ? TableClient.fromConnectionString(this.config.connectionString, table, {
              allowInsecureConnection: isLocal(this.config.connectionString),
              ...counting,
            })
          : new TableClient(this.config.endpoint, table, this.config.credential, counting);
      this.clients.set(name, client);
    }
    return client;
  }

  /** Creates every table once per process; an existing table is fine. */
  ensure(): Promise<void> {
    this.ensured ??= Promise.all(Object.values(TABLES).map((t) => this.client(t).createTable())).then(() => undefined);
    this.ensured.catch(() => (this.ensured = undefined));
    return this.ensured;
  }

  /** A cheap call that proves the account answers and we may read, for health checks. */
  async ping(): Promise<void> {
    const service =
      "connectionString" in this.config
        ? TableServiceClient.fromConnectionString(this.config.connectionString, {
            allowInsecureConnection: isLocal(this.config.connectionString),
          })
        : new TableServiceClient(this.config.endpoint, this.config.credential);
    const pages = service.listTables().byPage({ maxPageSize: 1 });
    await pages.next();
  }
}

function isLocal(connectionString: string): boolean {
  return /UseDevelopmentStorage=true|Endpoint=http:\/\/(127\.0\.0\.1|localhost)/i.test(connectionString);
}

/** Writes entities of one partition in transactions of at most 100, the service's limit. */
export async function upsertBatched<T extends TableEntity>(client: TableClient, entities: readonly T[]): Promise<void> {
  const byPartition = new Map<string, T[]>();
  for (const e of entities) {
    const list = byPartition.get(e.partitionKey) ?? [];
    list.push(e);
    byPartition.set(e.partitionKey, list);
  }
  for (const list of byPartition.values()) {
    for (let i = 0; i < list.length; i += 100) {
      await client.submitTransaction(list.slice(i, i + 100).map((e) => ["upsert", e, "Replace"] as const) as never);
    }
  }
}

/** Int64 values come back as BigInt, which JSON cannot serialise; numbers are what the domain uses. */
export function int64(value: number): { value: string; type: "Int64" } {
  return { value: String(Math.trunc(value)), type: "Int64" };
}

export function toNumber(value: unknown): number {
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "") return Number(value);
  if (typeof value === "object" && value !== null && "value" in value)
    return Number((value as { value: unknown }).value);
  return 0;
}

/** Strings are capped at 64 KiB (UTF-16) per property; keep well below it and say that something was cut. */
export function truncate(text: string, max = 16_000): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}
