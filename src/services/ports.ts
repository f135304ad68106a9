/** Free loopback TCP ports for the services we start. */
import net from "node:net";

/**
 * Asks the kernel for a free port by binding port 0. Another process can take it before our server
 * binds it, so callers retry their start on "address in use".
 */
export function findFreePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : undefined;
      server.close(() => (port ? resolve(port) : reject(new Error(`could not read the port bound on ${host}`))));
    });
  });
}

/** `count` distinct free ports (distinct because two probes may otherwise return the same one). */
export async function findFreePorts(count: number, host = "127.0.0.1"): Promise<number[]> {
  const ports = new Set<number>();
  for (let attempts = 0; ports.size < count; attempts++) {
    if (attempts > count * 10) throw new Error(`could not find ${count} distinct free ports on ${host}`);
    ports.add(await findFreePort(host));
  }
  return [...ports];
}

/** Whether `port` can be bound on `host` right now (another process may still take it later). */
export function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
