/** A local stand-in for GitHub's and GitLab's trigger APIs: records each request and answers as told. */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Answer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface StandIn {
  url: string;
  requests: RecordedRequest[];
  /** What the next requests get, in order; the last one repeats. */
  answers: Answer[];
  stop(): Promise<void>;
}

export async function startStandIn(answers: Answer[] = [{ status: 204 }]): Promise<StandIn> {
  const requests: RecordedRequest[] = [];
  const state = { answers };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      const answer = state.answers.length > 1 ? state.answers.shift()! : state.answers[0]!;
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
      res.end(answer.body ?? "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get answers() {
      return state.answers;
    },
    set answers(next: Answer[]) {
      state.answers = next;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
