/**
 * Request bodies the simulator accepts, checked like vLLM's pydantic models: unknown fields pass,
 * wrong or missing ones give a 400 whose message names the field.
 */
import { z } from "zod";

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

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): Parsed<T> {
  if (!body || typeof body !== "object" || Array.isArray(body)) return { ok: false, message: "request body must be a JSON object" };
  const r = schema.safeParse(body);
  return r.success ? { ok: true, value: r.data } : { ok: false, message: `Invalid request: ${describeIssues(r.error)}` };
}
