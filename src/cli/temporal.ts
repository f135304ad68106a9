import { Client, Connection } from "@temporalio/client";
import type { CliEnv } from "./env.js";

export async function connectClient(e: CliEnv): Promise<{ client: Client; close: () => Promise<void> }> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: e.temporalAddress, connectTimeout: "10s" });
  } catch (err) {
    throw new Error(`cannot reach Temporal at ${e.temporalAddress} (TEMPORAL_ADDRESS): ${err instanceof Error ? err.message : String(err)}`);
  }
  return { client: new Client({ connection, namespace: e.namespace }), close: () => connection.close() };
}
