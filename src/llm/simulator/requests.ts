/**
 * Request bodies the simulator accepts, checked like vLLM's pydantic models: unknown fields pass,
 * wrong or missing ones give a 400 whose message names the field.
 */
import { z } from "zod";
import { MAX_TOOL_JSON_DEPTH } from "../../jsonSchema/keywords.js";
import { parseJsonExact } from "../../util/exactJson.js";
import { jsonTextDeeperThan, nestsDeeperThan, pathDeeperThan, type JsonPath } from "../../util/jsonDepth.js";

/** The fields of a request whose values the simulator echoes or judges: the messages, the tools and schemas, the prompts and inputs. */
const EXACT_FIELDS: readonly string[] = ["messages", "tools", "response_format", "prompt", "input"];

/** A run of 16 digits: the shortest integer a double may not hold. */
const MAYBE_UNSAFE = /\d{16}/;

/**
 * A request body as the simulator reads it: the fields it echoes or judges (EXACT_FIELDS) with every
 * integer's digits (parseJsonExact: one a double cannot hold is a bigint), so an order id in a tool's
 * schema or a call's arguments comes back as sent; the request's own parameters (seed, max_tokens, ...)
 * as JSON.parse reads them, as vLLM takes them. Throws SyntaxError on malformed text.
 */
export function readRequestBody(raw: string): unknown {
  const plain: unknown = JSON.parse(raw);
  if (!MAYBE_UNSAFE.test(raw) || plain === null || typeof plain !== "object" || Array.isArray(plain)) return plain;
  let exact: unknown;
  try {
    exact = parseJsonExact(raw);
  } catch (err) {
    // Nested past what its parser's recursion takes: the depth checks refuse the body, naming the field.
    if (err instanceof RangeError) return plain;
    throw err;
  }
  const out = { ...(plain as Record<string, unknown>) };
  for (const k of EXACT_FIELDS) if (Object.hasOwn(out, k)) out[k] = (exact as Record<string, unknown>)[k];
  return out;
}

const optInt = z.number().int().nullish();
const jsonObject = z.record(z.string(), z.unknown());

const messageSchema = z.looseObject({ role: z.enum(["system", "user", "assistant", "tool", "developer", "function"]) });

const toolSchema = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({ name: z.string().min(1), description: z.string().nullish(), parameters: jsonObject.nullish() }),
});

export const chatRequestSchema = z.looseObject({
  model: z.string().nullish(),
  messages: z.array(messageSchema),
  tools: z.array(toolSchema).nullish(),
  tool_choice: z
    .union([z.enum(["none", "auto", "required"]), z.looseObject({ type: z.literal("function"), function: z.looseObject({ name: z.string() }) })])
    .nullish(),
  response_format: z
    .looseObject({
      type: z.enum(["text", "json_object", "json_schema"]),
      json_schema: z.looseObject({ name: z.string().nullish(), schema: jsonObject.nullish() }).nullish(),
    })
    .nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).nullish(),
  n: optInt,
  seed: optInt,
  stream: z.boolean().nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).nullish(),
  prompt_logprobs: z.number().int().min(0).nullish(),
  // vLLM extensions of the chat template (defaults true / false, as vLLM's).
  add_generation_prompt: z.boolean().nullish(),
  continue_final_message: z.boolean().nullish(),
});
export type ChatRequestBody = z.infer<typeof chatRequestSchema>;

export const completionRequestSchema = z.looseObject({
  model: z.string().nullish(),
  prompt: z.union([z.string(), z.array(z.string()).min(1)]),
  max_tokens: z.number().int().min(0).nullish(),
  echo: z.boolean().nullish(),
  logprobs: z.number().int().min(0).nullish(),
  prompt_logprobs: z.number().int().min(0).nullish(),
  n: optInt,
  seed: optInt,
  stream: z.boolean().nullish(),
  temperature: z.number().min(0).nullish(),
});
export type CompletionRequestBody = z.infer<typeof completionRequestSchema>;

export const embeddingRequestSchema = z.looseObject({
  model: z.string().nullish(),
  input: z.union([z.string(), z.array(z.string()).min(1)]),
  dimensions: z.number().int().positive().max(4096).nullish(),
  encoding_format: z.enum(["float", "base64"]).nullish(),
});
export type EmbeddingRequestBody = z.infer<typeof embeddingRequestSchema>;

const tokenizeCompletionSchema = z.looseObject({ model: z.string().nullish(), prompt: z.string(), return_token_strs: z.boolean().nullish() });
const tokenizeChatSchema = z.looseObject({
  model: z.string().nullish(),
  messages: z.array(messageSchema),
  tools: z.array(toolSchema).nullish(),
  add_generation_prompt: z.boolean().nullish(),
  continue_final_message: z.boolean().nullish(),
  add_special_tokens: z.boolean().nullish(),
  return_token_strs: z.boolean().nullish(),
});
export const tokenizeRequestSchema = z.union([tokenizeCompletionSchema, tokenizeChatSchema]);
export type TokenizeRequestBody = z.infer<typeof tokenizeRequestSchema>;

/**
 * A /tokenize body: text (`prompt`) or a chat (`messages`), as vLLM's union of the two. z.union
 * reports only "Invalid input" at the root when both fail, so the error comes from the form the
 * body's keys ask for, naming the field.
 */
export function parseTokenizeBody(body: unknown): Parsed<TokenizeRequestBody> {
  const r = parseBody(tokenizeRequestSchema, body);
  if (r.ok || !isRecord(body)) return r;
  if (Object.hasOwn(body, "messages")) return parseBody(tokenizeChatSchema, body);
  if (Object.hasOwn(body, "prompt")) return parseBody(tokenizeCompletionSchema, body);
  return { ok: false, message: "Invalid request: prompt or messages: Field required (prompt: a string to tokenize; messages: a chat)" };
}
export type TokenizeChatBody = z.infer<typeof tokenizeChatSchema>;

/** "messages: Field required; tools.0.function.name: Invalid input: expected string, received number". */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => {
      const path = i.path.map(String).join(".") || "(body)";
      const msg = /received undefined/.test(i.message) ? "Field required" : i.message;
      return `${path}: ${msg}`;
    })
    .join("; ");
}

/**
 * How deep a request body may nest. The scripts walk messages, tools and arguments recursively
 * (templates, canonical JSON for seeds); a body nested thousands of levels would overflow the stack.
 * Tools nest 4 levels in, so their schemas fit at the tool loader's bound (MAX_TOOL_JSON_DEPTH).
 */
export const MAX_REQUEST_JSON_DEPTH = 256;

type Shape = { [key: string]: Shape | [Shape] };
/** The parts of a request the simulator knows the layout of; below them a value is one field. */
const REQUEST_SHAPE: Shape = {
  messages: [{ tool_calls: [{ function: {} }] }],
  tools: [{ function: {} }],
  response_format: { json_schema: {} },
};

/** The request field a path lies in, as describeIssues names fields: "messages.0.content", "tools.1.function.parameters". */
function fieldOf(path: JsonPath): string {
  let shape: Shape | [Shape] | undefined = REQUEST_SHAPE;
  const out: (string | number)[] = [];
  for (const key of path) {
    if (shape === undefined) break;
    out.push(key);
    if (Array.isArray(shape)) shape = typeof key === "number" ? shape[0] : undefined;
    else shape = typeof key === "string" && Object.hasOwn(shape, key) ? shape[key] : undefined;
  }
  return out.join(".") || "(body)";
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const at = (v: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((o, k) => (isRecord(o) ? o[k] : undefined), v);

/**
 * Why a body nests too deep to serve, naming the field, or undefined. Tool schemas get the tool
 * loader's bound, the rest of the body MAX_REQUEST_JSON_DEPTH, and so do tool-call arguments sent
 * as JSON text (the chat template parses them).
 */
export function depthProblem(body: Record<string, unknown>): string | undefined {
  // Tool schemas start 4 levels in (response_format's 3): a body within 3 + their bound needs one walk.
  if (nestsDeeperThan(body, 3 + MAX_TOOL_JSON_DEPTH)) {
    const schemas: [string, unknown][] = Array.isArray(body.tools)
      ? body.tools.map((t, i) => [`tools.${i}.function.parameters`, at(t, "function", "parameters")])
      : [];
    schemas.push(["response_format.json_schema.schema", at(body, "response_format", "json_schema", "schema")]);
    for (const [field, schema] of schemas) if (nestsDeeperThan(schema, MAX_TOOL_JSON_DEPTH)) return `${field}: nests deeper than ${MAX_TOOL_JSON_DEPTH} levels`;
    if (nestsDeeperThan(body, MAX_REQUEST_JSON_DEPTH)) {
      const path = pathDeeperThan(body, MAX_REQUEST_JSON_DEPTH) ?? [];
      return `${fieldOf(path)}: nested too deep (a request body may nest at most ${MAX_REQUEST_JSON_DEPTH} levels)`;
    }
  }
  if (!Array.isArray(body.messages)) return undefined;
  for (const [i, message] of body.messages.entries()) {
    const calls = at(message, "tool_calls");
    if (!Array.isArray(calls)) continue;
    for (const [j, call] of calls.entries()) {
      const args = at(call, "function", "arguments");
      if (typeof args === "string" && jsonTextDeeperThan(args, MAX_REQUEST_JSON_DEPTH))
        return `messages.${i}.tool_calls.${j}.function.arguments: JSON nested deeper than ${MAX_REQUEST_JSON_DEPTH} levels`;
    }
  }
  return undefined;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): Parsed<T> {
  if (!body || typeof body !== "object" || Array.isArray(body)) return { ok: false, message: "request body must be a JSON object" };
  const deep = depthProblem(body as Record<string, unknown>);
  if (deep) return { ok: false, message: `Invalid request: ${deep}` };
  const r = schema.safeParse(body);
  return r.success ? { ok: true, value: r.data } : { ok: false, message: `Invalid request: ${describeIssues(r.error)}` };
}
