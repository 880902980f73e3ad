/**
 * A TCP proxy on loopback that misbehaves on purpose, to test what the
 * shippers do when the network does: connection n (0-based) follows
 * plan[n % plan.length]: "pass" forwards one request and its answer, then
 * closes (so the client's keep-alive connection cannot bypass the plan),
 * "cut-request" closes both sides after `cutAfterBytes` bytes from the client
 * (mid-request), "cut-answer" forwards the request and closes when the answer
 * begins (the server stored the points; the client never hears it), "stall"
 * accepts and forwards nothing.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export type ConnectionPlan = "pass" | "cut-request" | "cut-answer" | "stall";

export interface FlakyProxy {
  url: string;
  port: number;
  /** Connections accepted so far, by what was done to them. */
  counts: Record<ConnectionPlan, number>;
  close(): Promise<void>;
}

export async function startFlakyProxy(
  targetPort: number,
  plan: ConnectionPlan[],
  cutAfterBytes = 4096,
): Promise<FlakyProxy> {
  const sockets = new Set<Socket>();
  const counts: Record<ConnectionPlan, number> = { pass: 0, "cut-request": 0, "cut-answer": 0, stall: 0 };
  let accepted = 0;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const server: Server = createServer((client) => {
    track(client);
    const mode = plan[accepted++ % plan.length];
    counts[mode]++;
    if (mode === "stall") return;
    const upstream = connect(targetPort, "127.0.0.1");
    track(upstream);
    const cutBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    let upBytes = 0;
    client.on("data", (data: Buffer) => {
      if (mode === "cut-request" && upBytes + data.length >= cutAfterBytes) {
        upstream.write(data.subarray(0, Math.max(0, cutAfterBytes - upBytes)));
        cutBoth();
        return;
      }
      upBytes += data.length;
      upstream.write(data);
    });
    upstream.on("data", (data: Buffer) => {
      if (mode === "cut-answer") {
        cutBoth();
        return;
      }
      // The stonks server answers a write in one piece; a second request must take a new connection.
      client.end(data);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
