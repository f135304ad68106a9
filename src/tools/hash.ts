/**
 * A tool's content hash, on its own so that verification (which caches compiled validators by it) can
 * import it without depending on the tool library's file loading.
 */
import type { McpTool } from "../domain/types.js";
import { canonicalJson, sha256Hex } from "../util/ids.js";

/** Content hash of a tool; key order does not matter. */
export function toolHash(tool: McpTool): string {
  return sha256Hex(canonicalJson(tool));
}
