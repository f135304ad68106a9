import { Client, Connection } from "@temporalio/client";
import type { CliEnv } from "./env.js";
import { CliError, ensureTemporalReachable, temporalCliError, temporalUnreachable } from "./errors.js";

const CONNECT_TIMEOUT_S = 10;

/**
 * Connects to Temporal or fails with one line naming the address and the cause. A plain TCP probe
 * comes first: the SDK waits out its whole deadline on a refused port and then says only "Failed to
 * connect before the deadline", where the probe knows at once that nothing listens there.
 */
export async function connectClient(e: CliEnv): Promise<{ client: Client; close: () => Promise<void> }> {
  await ensureTemporalReachable(e);
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: e.temporalAddress, connectTimeout: `${CONNECT_TIMEOUT_S}s` });
  } catch (err) {
    const known = temporalCliError(err, e);
    if (known) throw known;
    if (err instanceof TypeError) throw new CliError(`TEMPORAL_ADDRESS: ${err.message}`);
    const why =
      err instanceof Error && /deadline/i.test(err.message)
        ? `the port is open but no Temporal gRPC service answered within ${CONNECT_TIMEOUT_S}s`
        : err instanceof Error
          ? err.message
          : String(err);
    throw temporalUnreachable(e, why);
  }
  return { client: new Client({ connection, namespace: e.namespace }), close: () => connection.close() };
}
