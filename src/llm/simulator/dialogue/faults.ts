/**
 * The simulated assistant's scripted faults, each from its own stream (streams.ts "assistant-fault"):
 * - a schema violation (what reflection must catch): a wrongly typed value, a missing required
 *   argument, an unknown parameter, or a tool name that is not offered;
 * - at temperature > 0, a disagreement (what voting must catch): a schema-valid but wrong value, a
 *   value invented instead of asked for, or a redundant call instead of the final answer.
 */
import { stringifyJsonExact } from "../../../util/exactJson.js";
import type { SeededRandom } from "../../../util/random.js";
import type { SimTool } from "../queryWriter.js";
import { objectForSchema, schemaType, valueForSchema } from "../schemaValues.js";
import type { AgentCall } from "../toolAgent.js";
import { propertiesOf, requiredOf } from "./cases.js";

export type SchemaViolation = "wrong_type" | "missing_required" | "extra_param" | "hallucinated_tool";
export type Disagreement = "wrong_value" | "invented_value" | "redundant_call" | "dropped_call";

function copy(calls: readonly AgentCall[]): AgentCall[] {
  return calls.map((c) => ({ name: c.name, args: { ...c.args } }));
}

/**
 * One call of the answer broken against its tool's schema, by a kind that applies to it: a wrongly
 * typed value, a required argument dropped, an unknown parameter (only where the schema forbids extra
 * ones, so the call really breaks it), or a tool name that is not offered (always possible).
 */
export function violateSchema(rng: SeededRandom, calls: readonly AgentCall[], tools: readonly SimTool[]): { calls: AgentCall[]; kind: SchemaViolation } {
  const out = copy(calls);
  const target = out[rng.int(0, out.length - 1)]!;
  const tool = tools.find((t) => t.name === target.name);
  const props = tool ? propertiesOf(tool) : {};
  const typed = Object.keys(target.args).filter((k) => {
    const t = props[k] ? schemaType(props[k]) : undefined;
    return t === "integer" || t === "number" || t === "boolean" || t === "string";
  });
  const required = tool ? requiredOf(tool).filter((r) => Object.hasOwn(target.args, r)) : [];
  const closed = tool?.parameters.additionalProperties === false;
  const kinds: SchemaViolation[] = [
    ...(typed.length > 0 ? (["wrong_type"] as const) : []),
    ...(required.length > 0 ? (["missing_required"] as const) : []),
    ...(closed ? (["extra_param"] as const) : []),
    "hallucinated_tool",
  ];
  const kind = rng.pick(kinds);
  if (kind === "wrong_type") {
    const key = rng.pick(typed);
    const v = target.args[key];
    target.args[key] =
      schemaType(props[key]!) === "string" ? (typeof v === "string" && v !== "" && !Number.isNaN(Number(v)) ? Number(v) : { value: v }) : String(v);
  } else if (kind === "missing_required") {
    delete target.args[rng.pick(required)];
  } else if (kind === "extra_param") {
    const unknown = ["verbose", "user_id", "format_hint", "confirm", "x_request_note"].filter((k) => !Object.hasOwn(props, k));
    target.args[rng.pick(unknown)] = rng.pick([true, "auto", 1]);
  } else {
    target.name = `${target.name}${rng.pick(["_v2", "_advanced", "_lookup"])}`;
  }
  return { calls: out, kind };
}

/** Another schema-valid value of the same type, or undefined when the schema admits none. */
export function otherValue(rng: SeededRandom, schema: Record<string, unknown>, name: string, current: unknown): unknown {
  if (Object.hasOwn(schema, "const")) return undefined;
  if (Array.isArray(schema.enum)) {
    const others = schema.enum.filter((v) => stringifyJsonExact(v) !== stringifyJsonExact(current));
    return others.length > 0 ? rng.pick(others) : undefined;
  }
  if (typeof current === "boolean") return !current;
  for (let i = 0; i < 12; i++) {
    const v = valueForSchema(rng, schema, name);
    if (typeof v === typeof current && stringifyJsonExact(v) !== stringifyJsonExact(current)) return v;
  }
  if (typeof current === "number") {
    const max = typeof schema.maximum === "number" ? schema.maximum : Infinity;
    return current + 1 <= max ? current + 1 : current - 1;
  }
  if (typeof current === "string") return `${current} (other)`;
  return undefined;
}

/** A wrong value in one argument of one call (schema-valid); undefined when no argument can take another value. */
export function wrongValue(rng: SeededRandom, calls: readonly AgentCall[], tools: readonly SimTool[]): AgentCall[] | undefined {
  const order = rng.shuffle(calls.map((_, i) => i));
  for (const i of order) {
    const call = calls[i]!;
    const tool = tools.find((t) => t.name === call.name);
    const props = tool ? propertiesOf(tool) : {};
    for (const key of rng.shuffle(Object.keys(call.args))) {
      const v = call.args[key];
      if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") continue;
      const other = otherValue(rng, props[key] ?? {}, key, v);
      if (other === undefined) continue;
      const out = copy(calls);
      out[i]!.args[key] = other;
      return out;
    }
  }
  return undefined;
}

/** The call a careless assistant makes instead of asking: the missing values invented from the schema. */
export function inventedCall(rng: SeededRandom, tool: SimTool, args: Record<string, unknown>): AgentCall {
  const filled = objectForSchema(rng, tool.parameters, tool.parameters, { optionalRate: 0 });
  return { name: tool.name, args: { ...filled, ...args } };
}
