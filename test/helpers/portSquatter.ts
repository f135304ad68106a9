/**
 * A loopback port held the way another process would hold it (bound and listening), for tests of
 * what a start does when the port it probed free is taken before it binds.
 */
import net from "node:net";

export interface SquattedPort {
  port: number;
  close(): Promise<void>;
}

export async function squatPort(host = "127.0.0.1"): Promise<SquattedPort> {
  // It takes no part in any exchange: a connection (a daemon looking for its peer) is dropped at once.
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: 0, host }, resolve);
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
