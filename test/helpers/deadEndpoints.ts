/** Endpoints that fail the way real ones do: a closed port (refuses) and a server that accepts and never answers (hangs). */
import net from "node:net";

const handedOut = new Set<number>();
/** Ports above 700 that fetch refuses to connect to at all ("bad ports" in the Fetch standard). */
const FETCH_BLOCKED = new Set([989, 990, 993, 995]);

/**
 * A loopback port that refuses connections, distinct within this process.
 *
 * Taken from the privileged range (700-1023) after checking that it refuses: test servers all
 * listen on port 0, which the kernel serves from the ephemeral range, so none of them can take the
 * port later. (An ephemeral port bound and closed here could be handed to another test process's
 * simulator a moment later, which then answered the "dead" endpoint; a client connecting to an
 * ephemeral port can also connect to itself.)
 */
export async function closedPort(): Promise<number> {
  for (let port = 700; port < 1024; port++) {
    if (handedOut.has(port) || FETCH_BLOCKED.has(port)) continue;
    if (await refuses(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("no port in 700-1023 refuses connections on 127.0.0.1");
}

function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.setTimeout(1000);
    socket.once("connect", () => (socket.destroy(), resolve(false)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

/** A TCP server that accepts every connection, reads what it is sent and never writes a byte. */
export async function startHungServer(): Promise<{ baseUrl: string; port: number; connections(): number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    port,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
