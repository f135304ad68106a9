/**
 * The building blocks of config schemas, shared by the campaign envelope and every stage's spec:
 * bounded numbers and strings with messages that say what was expected. Pure (workflows may import it).
 */
import { z } from "zod";
import { ENV_VALUE_RULE, envNameProblem } from "./envVar.js";

/**
 * Upper bounds on everything a config can size. They keep a hostile or mistyped config from planning
 * work no history can hold (10^15 batches), from holding a worker for hours, or from carrying
 * megabytes into every workflow payload; each is far above what a real campaign needs.
 */
export const CONFIG_LIMITS = {
  /** Serialized config (JSON text, UTF-8 bytes); Temporal payloads are capped at 2 MB in all. */
  configBytes: 1024 * 1024,
  /** Samples one synthesize stage may produce per iteration. */
  count: 1_000_000,
  /** Batches one stage may plan (each chunk of 500 runs in a child workflow's history). */
  batchesPerStage: 10_000,
  iterations: 10_000,
  maxRetries: 20,
  maxTokens: 131_072,
  timeoutMs: 3_600_000,
  maxConcurrency: 4096,
  limitPerCategory: 100_000,
  stages: 64,
  toolSources: 256,
  endpoints: 64,
  roles: 64,
  nameLength: 63,
  modelLength: 256,
  pathLength: 4096,
  urlLength: 2048,
} as const;

/** A value as messages quote it: short, and safe for anything a hostile input holds. */
export function preview(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v);
  if (typeof v === "number" || typeof v === "boolean" || v === null) return String(v);
  return Array.isArray(v) ? "a list" : typeof v === "object" ? "an object" : typeof v;
}

export const int = (what: string) => z.number({ error: `expected ${what}` }).int(`expected ${what}`);

/**
 * Params of a check across an object's fields: it runs only once every field passed its own checks.
 * zod would run it after a field's bound failed, and comparing a value already refused only repeats
 * that problem, often with absurd numbers ("consensus 1 of 1000000000 votes").
 */
export const onceFieldsValid = { when: (payload: { issues: readonly unknown[] }) => payload.issues.length === 0 };
export const positiveInt = int("a positive integer").positive("expected a positive integer");
export const nonNegativeInt = int("a non-negative integer").min(0, "expected a non-negative integer");
export const atMost = (n: number, why = "") => `expected at most ${n}${why}`;
export const fraction = z
  .number({ error: "expected a number between 0 and 1" })
  .min(0, "expected a number between 0 and 1")
  .max(1, "expected a number between 0 and 1");
export const temperature = z
  .number({ error: "expected a number between 0 and 2" })
  .min(0, "expected a number between 0 and 2")
  .max(2, "expected a number between 0 and 2");
export const boundedString = (max: number, what: string) =>
  z.string({ error: "expected a non-empty string" }).min(1, "expected a non-empty string").max(max, `expected at most ${max} characters (${what})`);
export const name = boundedString(CONFIG_LIMITS.nameLength, "a name");
export const model = boundedString(CONFIG_LIMITS.modelLength, "a model name");
export const filePath = boundedString(CONFIG_LIMITS.pathLength, "a path").refine((p) => !p.includes("\0"), "must not contain a NUL character");

/**
 * The base URL of a service toolloop calls (an LLM endpoint, the Ray dashboard, a reward service):
 * http or https, bounded, and without user info, query or fragment. Paths are appended to it
 * (`/chat/completions`), which a query or fragment would swallow, and secrets belong in the
 * environment (an endpoint's `apiKeyEnv`, the Ray launcher's `headers`), not in a config that is
 * stored, hashed and shown in the Temporal UI. The messages never repeat the URL, which may hold one.
 */
export const serviceUrl = (example: string, what = "an http: or https: URL such as") =>
  z
    .url({ protocol: /^https?$/, error: `expected ${what} ${example}` })
    .max(CONFIG_LIMITS.urlLength, atMost(CONFIG_LIMITS.urlLength, " characters (a URL)"))
    .refine((u) => {
      const url = parsedUrl(u);
      return url === undefined || (url.username === "" && url.password === "");
    }, "must not carry a user name or password (user:password@): configs are stored and shown in the Temporal UI; put an API key in the environment variable an endpoint's apiKeyEnv names")
    .refine((u) => !u.includes("?"), `must not carry a query (?...): paths such as /chat/completions are appended to it; e.g. ${example}`)
    .refine((u) => !u.includes("#"), `must not carry a fragment (#...): paths are appended to it; e.g. ${example}`);

/** The URL, or undefined where it does not parse (the URL check has said so already). */
function parsedUrl(u: string): URL | undefined {
  try {
    return new URL(u);
  } catch {
    return undefined;
  }
}

/** A stage's `batchSize`, with its own default and ceiling. */
export const batchSize = (defaultSize: number, max = 2000) => positiveInt.max(max, atMost(max)).default(defaultSize);
export const limitPerCategory = positiveInt.max(CONFIG_LIMITS.limitPerCategory, atMost(CONFIG_LIMITS.limitPerCategory));

/**
 * How a cluster-job stage watches its job: each watch activity polls every `pollSeconds` for up to
 * `windowSeconds`, then the watching workflow records one step (a week-long job stays a short history).
 */
export const jobWatch = z
  .strictObject({
    windowSeconds: positiveInt.min(5, "expected at least 5").max(3600, atMost(3600, " (one hour)")).default(300),
    pollSeconds: positiveInt.max(600, atMost(600)).default(10),
  })
  .refine((w) => w.pollSeconds <= w.windowSeconds, { message: "expected pollSeconds <= windowSeconds", ...onceFieldsValid })
  .default({ windowSeconds: 300, pollSeconds: 10 });

/**
 * Which iterations of a campaign run a stage: `every` (default), `first` (seed synthesis and its
 * verification), `later` (stages that need a previous round, such as selecting the next pool).
 */
export const runIn = z.enum(["every", "first", "later"], { error: 'expected "every", "first" or "later"' }).optional();

/**
 * A record whose keys the config's author chooses, each checked by `keyProblem` and reported at the
 * key's own path with its reason (zod's key errors wrap it in "Invalid key in record").
 */
export function keyedRecord<V extends z.ZodType<unknown, string>>(value: V, keyProblem: (key: string) => string | undefined, what: string) {
  return z.record(z.string(), value, { error: `expected an object of ${what}` }).check(
    z.superRefine(
      (record, ctx) => {
        for (const key of Object.keys(record)) {
          const problem = keyProblem(key);
          if (problem !== undefined) ctx.addIssue({ code: "custom", path: [key], message: problem, input: key });
        }
      },
      // Keys are checked even where a value failed its own check: both are reported at once.
      { when: (payload) => typeof payload.value === "object" && payload.value !== null },
    ),
  );
}

/** A cluster job's extra environment (train stages' `env`): the launchers refuse what this refuses. */
export const jobEnv = keyedRecord(
  boundedString(CONFIG_LIMITS.pathLength, "a value").refine((v) => !v.includes("\0"), ENV_VALUE_RULE),
  envNameProblem,
  "environment variable names to values",
).default({});

/**
 * The scored model's end-of-turn token(s), as vLLM's /tokenize writes them in `token_strs`: the label
 * perplexity span ends at the last of them (src/scoring/labelPerplexity.ts). Optional with no
 * default, so a config without it freezes as before (docs/operations.md, "Rolling deploys").
 */
export const endOfTurnTokens = z
  .array(
    z
      .string({ error: 'expected a token string as /tokenize writes it, e.g. "<|im_end|>"' })
      .min(1, "expected a non-empty token string")
      .max(64, atMost(64, " characters")),
    { error: 'expected a list of token strings, e.g. ["<|im_end|>"]' },
  )
  .min(1, "expected at least one token (leave the field out for the built-in list)")
  .max(16, atMost(16, " tokens"));
