/**
 * Application tables. Later stages add their own tables in new migrations; nothing here needs a
 * rewrite for that: per-stage results are JSONB, samples carry kind/origin/parent for lineage.
 */
import { sql } from "drizzle-orm";
import { bigint, boolean, doublePrecision, index, integer, jsonb, pgTable, pgView, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { SAMPLE_STATUSES, type ChatMessage, type McpTool, type Verdict } from "../domain/types.js";
import type { DialoguePlan, ToolResult } from "../dialogue/protocol.js";
import { DIALOGUE_STATUSES, type DialogueOutcome, type DialogueTurn } from "../dialogue/types.js";

/*
 * Status columns are text with a TypeScript-only enum: every write is checked at compile time, and
 * adding a status needs no migration. The database itself does not constrain them.
 */
/**
 * What the campaign row records: running until the campaign workflow ends one of these ways.
 * `terminated`: its workflow was terminated (a schedule's overlap policy terminateOther, or by hand)
 * or timed out, so no cleanup wrote its end; recorded when that is seen (src/schedules/endedRuns.ts).
 */
export const CAMPAIGN_STATUSES = ["running", "completed", "failed", "aborted", "terminated"] as const;
export type CampaignRowStatus = (typeof CAMPAIGN_STATUSES)[number];
/**
 * An iteration is running until its workflow finishes it (a failed stage waits or aborts, it does not end the
 * iteration); "failed" when its campaign failed (`onStageFailure: "fail"`) while it ran. Text without a database
 * constraint: adding a value needs no migration.
 */
export const ITERATION_STATUSES = ["running", "completed", "aborted", "failed"] as const;
export type IterationRowStatus = (typeof ITERATION_STATUSES)[number];
export const STAGE_RUN_STATUSES = ["running", "succeeded", "failed", "skipped"] as const;
export type StageRunStatus = (typeof STAGE_RUN_STATUSES)[number];
export const LLM_REQUEST_STATUSES = ["sent", "ok", "failed"] as const;
export type LlmRequestStatus = (typeof LLM_REQUEST_STATUSES)[number];
export const SLOT_OUTCOMES = ["failed", "duplicate"] as const;
export type SlotOutcome = (typeof SLOT_OUTCOMES)[number];

export const campaigns = pgTable(
  "campaigns",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    config: jsonb("config").notNull(),
    status: text("status", { enum: CAMPAIGN_STATUSES }).notNull().default("running"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    /** The campaign workflow's id (a scheduled run's is `campaign-<schedule>-<RFC 3339 time>`, not `campaign-<id>`); null before it was recorded. */
    workflowId: text("workflow_id"),
    /**
     * The run of that workflow the row belongs to (Temporal's run id), recorded by each registration
     * (a campaign started again under the same workflow id is a new run); null for rows registered by
     * builds before migration 0014. The terminated-run marking only marks the run Temporal described.
     */
    workflowRunId: text("workflow_run_id"),
    /** The schedule that started it (`schedules[].id`), null for a campaign started by hand. */
    scheduleId: text("schedule_id"),
    /** The time its schedule started it for (Temporal's TemporalScheduledStartTime). */
    scheduledAt: timestamp("scheduled_at", { withTimezone: true }),
    /** The schedule's previous campaign whose latest policy and pool its first iteration starts from (recorded at registration). */
    continuesFrom: text("continues_from"),
  },
  (t) => [index("campaigns_schedule_idx").on(t.scheduleId, t.scheduledAt)],
);

/**
 * Frozen configs of a campaign (src/config/frozen.ts), one row per version: version 1 when the
 * campaign is registered, a new one only when an operator asks for it, applying from the iteration
 * named. Activities and workflows read the version in force for their iteration.
 */
export const campaignConfigs = pgTable(
  "campaign_configs",
  {
    campaignId: text("campaign_id").notNull(),
    version: integer("version").notNull(),
    sha256: text("sha256").notNull(),
    schemaVersion: integer("schema_version").notNull(),
    frozen: jsonb("frozen").notNull(),
    appliesFromIteration: integer("applies_from_iteration").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.version] })],
);

export const iterations = pgTable(
  "iterations",
  {
    campaignId: text("campaign_id")
      .notNull()
      .references(() => campaigns.id, { onDelete: "cascade" }),
    iteration: integer("iteration").notNull(),
    status: text("status", { enum: ITERATION_STATUSES }).notNull().default("running"),
    summary: jsonb("summary"),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration] })],
);

/** One row per (campaign, iteration, stage): a re-run skips a stage whose row says succeeded/skipped. */
export const stageRuns = pgTable(
  "stage_runs",
  {
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    stage: text("stage").notNull(),
    status: text("status", { enum: STAGE_RUN_STATUSES }).notNull(),
    attempts: integer("attempts").notNull().default(1),
    batchesTotal: integer("batches_total"),
    /** Items the plan covers (slots or selected samples), fixed with the plan. */
    itemsTotal: integer("items_total"),
    result: jsonb("result"),
    error: text("error"),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration, t.stage] })],
);

/**
 * Each call of an iteration's own steps (the activities its workflow and its campaign's workflow run
 * outside stage steps: registration, loading the plan, starting and finishing the iteration, its
 * reports, recording a stage's outcome, the campaign's end) and how many times Temporal retried it
 * by itself before its latest attempt (its attempt number less one; the highest recorded stands, so
 * an attempt handed over twice counts once). `step` is the activity type, `execution` its workflow
 * run and activity id. Every call is recorded from its first attempt, so an iteration without rows
 * ran before they were (src/db/repos/iterationSteps.ts). No foreign key: a registration's retries
 * are recorded before its campaign row exists.
 */
export const iterationSteps = pgTable(
  "iteration_steps",
  {
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    step: text("step").notNull(),
    execution: text("execution").notNull(),
    retries: integer("retries").notNull().default(0),
    firstSeenAt: timestamp("first_seen_at", { withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration, t.step, t.execution] })],
);

/**
 * The samples each batch of a selection stage reads, fixed when the stage is planned: rows other
 * stages add or change afterwards never move a batch's boundaries. Kept until the stage is re-planned.
 */
export const stageBatchItems = pgTable(
  "stage_batch_items",
  {
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    stage: text("stage").notNull(),
    batchIndex: integer("batch_index").notNull(),
    sampleId: text("sample_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration, t.stage, t.batchIndex, t.sampleId] })],
);

/** Completed batches of a stage: a retried stage runs only the batches missing here. */
export const stageBatches = pgTable(
  "stage_batches",
  {
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    stage: text("stage").notNull(),
    batchIndex: integer("batch_index").notNull(),
    result: jsonb("result").notNull(),
    finishedAt: timestamp("finished_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration, t.stage, t.batchIndex] })],
);

export const tools = pgTable(
  "tools",
  {
    campaignId: text("campaign_id").notNull(),
    name: text("name").notNull(),
    domain: text("domain"),
    source: text("source").notNull(),
    /** MCP tool definition ({name, description, inputSchema, ...}). */
    definition: jsonb("definition").$type<McpTool>().notNull(),
    hash: text("hash").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.name] })],
);

export const samples = pgTable(
  "samples",
  {
    /** Deterministic: hash of campaign id and content (messages + tools). */
    id: text("id").primaryKey(),
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    /** standard | parallel | irrelevance | multi_turn | ... */
    kind: text("kind").notNull(),
    /** synthesized | repaired | expanded | ... */
    origin: text("origin").notNull(),
    /** The sample this one was made from (a repaired label's original, an expansion's error seed). */
    parentId: text("parent_id"),
    /** The stage that wrote it (synthesize.singleTurn, repair.labels, expand.errors, ...); null for rows older than the column. */
    stage: text("stage"),
    /** Work slot that produced it (campaign/iteration/stage/index): makes re-runs write once. */
    slotKey: text("slot_key"),
    messages: jsonb("messages").$type<ChatMessage[]>().notNull(),
    tools: jsonb("tools").$type<McpTool[]>().notNull(),
    status: text("status", { enum: SAMPLE_STATUSES }).notNull().default("pending"),
    verdicts: jsonb("verdicts")
      .$type<Verdict[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
    metadata: jsonb("metadata")
      .$type<Record<string, unknown>>()
      .notNull()
      .default(sql`'{}'::jsonb`),
    /** Exact-duplicate key (normalised user turns + answer), set by dedupe.exact. */
    exactKey: text("exact_key"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("samples_slot_key_uq").on(t.slotKey),
    index("samples_campaign_iteration_status_idx").on(t.campaignId, t.iteration, t.status),
    index("samples_campaign_iteration_exact_key_idx").on(t.campaignId, t.iteration, t.exactKey),
  ],
);

/**
 * One row per HTTP request attempt an LLM client makes, written before the request is sent (status
 * "sent") and completed when its outcome is known ("ok" or "failed", with token counts). The id is
 * the X-Request-Id header the request carries, so the ledger can be reconciled with the server's
 * own logs; a request whose attempt was killed mid-flight stays "sent" (counted, outcome unknown).
 */
export const llmRequests = pgTable(
  "llm_requests",
  {
    id: text("id").primaryKey(),
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    stage: text("stage").notNull(),
    batchIndex: integer("batch_index"),
    role: text("role").notNull(),
    model: text("model").notNull(),
    status: text("status", { enum: LLM_REQUEST_STATUSES }).notNull(),
    promptTokens: integer("prompt_tokens").notNull().default(0),
    completionTokens: integer("completion_tokens").notNull().default(0),
    /** The answer came from the toolloop LLM simulator (it marks every response), not a model. */
    simulated: boolean("simulated").notNull().default(false),
    sentAt: timestamp("sent_at", { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [index("llm_requests_campaign_stage_idx").on(t.campaignId, t.iteration, t.stage)],
);

/**
 * Totals recorded before the request ledger existed (migration 0002 renamed the old aggregate table):
 * kept so upgrading loses no accounting; nothing writes here any more.
 */
export const llmUsageLegacy = pgTable(
  "llm_usage_legacy",
  {
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    stage: text("stage").notNull(),
    role: text("role").notNull(),
    model: text("model").notNull(),
    requests: bigint("requests", { mode: "number" }).notNull().default(0),
    promptTokens: bigint("prompt_tokens", { mode: "number" }).notNull().default(0),
    completionTokens: bigint("completion_tokens", { mode: "number" }).notNull().default(0),
    failures: bigint("failures", { mode: "number" }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration, t.stage, t.role, t.model] })],
);

/** Token accounting per (campaign, iteration, stage, role, model): sums over the request ledger (and legacy totals). */
export const llmUsage = pgView("llm_usage", {
  campaignId: text("campaign_id").notNull(),
  iteration: integer("iteration").notNull(),
  stage: text("stage").notNull(),
  role: text("role").notNull(),
  model: text("model").notNull(),
  requests: bigint("requests", { mode: "number" }).notNull(),
  promptTokens: bigint("prompt_tokens", { mode: "number" }).notNull(),
  completionTokens: bigint("completion_tokens", { mode: "number" }).notNull(),
  failures: bigint("failures", { mode: "number" }).notNull(),
  outcomeUnknown: bigint("outcome_unknown", { mode: "number" }).notNull(),
}).as(sql`
  select campaign_id, iteration, stage, role, model, sum(requests)::bigint as requests, sum(prompt_tokens)::bigint as prompt_tokens,
    sum(completion_tokens)::bigint as completion_tokens, sum(failures)::bigint as failures, sum(outcome_unknown)::bigint as outcome_unknown
  from (
    select campaign_id, iteration, stage, role, model, 1 as requests, prompt_tokens, completion_tokens,
      (status = 'failed')::int as failures, (status = 'sent')::int as outcome_unknown
    from llm_requests
    union all
    select campaign_id, iteration, stage, role, model, requests, prompt_tokens, completion_tokens, failures, 0 from llm_usage_legacy
  ) as u
  group by campaign_id, iteration, stage, role, model`);

/**
 * What became of a work slot that produced no sample of its own: the model failed to give a usable
 * answer, or the sample duplicated one already stored. With the samples' slot keys this makes every
 * slot's outcome durable, so a retried batch neither redoes nor double-counts a slot.
 */
export const stageSlotOutcomes = pgTable(
  "stage_slot_outcomes",
  {
    slotKey: text("slot_key").primaryKey(),
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    stage: text("stage").notNull(),
    slot: integer("slot").notNull(),
    outcome: text("outcome", { enum: SLOT_OUTCOMES }).notNull(),
    /** The stored sample this slot duplicated, or the failure's message. */
    detail: text("detail"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("stage_slot_outcomes_stage_idx").on(t.campaignId, t.iteration, t.stage, t.slot)],
);

/**
 * Application failures of one activity execution, one row per failed attempt. Infrastructure
 * failures (worker loss, database or network outages) are never written here: only these rows count
 * toward the budget after which an activity gives up and asks for an operator.
 */
export const activityFailures = pgTable(
  "activity_failures",
  {
    workflowId: text("workflow_id").notNull(),
    runId: text("run_id").notNull(),
    activityId: text("activity_id").notNull(),
    attempt: integer("attempt").notNull(),
    activityType: text("activity_type").notNull(),
    errorType: text("error_type").notNull(),
    message: text("message").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.activityId, t.attempt] })],
);

export const datasetExports = pgTable(
  "dataset_exports",
  {
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    path: text("path").notNull(),
    manifest: jsonb("manifest").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration] })],
);

/**
 * BFCL accuracies per iteration. One row per category, plus rows for the group scores (category
 * "overall", "non_live", "live", "multi_turn"); `evaluator` says which code produced the number
 * (the official bfcl-eval package or toolloop's in-process matcher), so both can coexist.
 */
export const bfclScores = pgTable(
  "bfcl_scores",
  {
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    evaluator: text("evaluator").notNull(), // bfcl-eval | toolloop-matcher
    category: text("category").notNull(),
    /**
     * Entries answered correctly / entries scored. A category row's accuracy is correct / total (as is
     * overall_probe's, the fast probe's entry-weighted mean). evaluate.bfcl's group rows (overall,
     * non_live, live, multi_turn) hold these counts summed over the categories scored, only to say how
     * many entries the group rests on: their accuracy is RULES.md's formula (plain and size-weighted
     * means of category accuracies, a missing category counted 0), NOT correct / total.
     */
    correct: integer("correct").notNull(),
    total: integer("total").notNull(),
    accuracy: doublePrecision("accuracy").notNull(),
    /** Where the number came from (score file path, package version, limit) for audits. */
    details: jsonb("details"),
    /**
     * The evaluated policy was the toolloop LLM simulator (it marks its answers), so the number
     * measures no model; a group row is simulated when any of its categories is.
     */
    simulated: boolean("simulated").notNull().default(false),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration, t.evaluator, t.category] })],
);

/**
 * The verl dataset (export.verl) of each iteration: its folder and manifest (counts, file hashes,
 * split, provenance). Training reads the newest at or before its iteration.
 */
export const trainingDatasets = pgTable(
  "training_datasets",
  {
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    dir: text("dir").notNull(),
    manifest: jsonb("manifest").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("training_datasets_campaign_iteration_uq").on(t.campaignId, t.iteration)],
);

export const CLUSTER_JOB_STATES = ["submitting", "pending", "running", "succeeded", "failed", "cancelled", "lost"] as const;
export type ClusterJobState = (typeof CLUSTER_JOB_STATES)[number];

/**
 * Cluster jobs (training, merge, serving), one row per job name. The row is written before the
 * submit call ("submitting"), so a worker that dies between the scheduler's answer and the next
 * write finds the job again by its name; the launcher's own lookup by name is the ground truth.
 */
export const clusterJobs = pgTable(
  "cluster_jobs",
  {
    name: text("name").primaryKey(),
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    stage: text("stage").notNull(),
    attempt: integer("attempt").notNull(),
    launcher: text("launcher").notNull(),
    /** The scheduler's id (Slurm job id, Ray submission id, local pid); null until submitted. */
    externalId: text("external_id"),
    request: jsonb("request").notNull(),
    state: text("state").$type<ClusterJobState>().notNull(),
    exitCode: integer("exit_code"),
    message: text("message"),
    /** Latest progress read from the job (steps, metrics). */
    progress: jsonb("progress"),
    submittedAt: timestamp("submitted_at", { withTimezone: true }),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [index("cluster_jobs_stage_idx").on(t.campaignId, t.iteration, t.stage)],
);

export const MODEL_VERSION_KINDS = ["sft", "checkpoint", "merged", "served"] as const;
export type ModelVersionKind = (typeof MODEL_VERSION_KINDS)[number];

/**
 * The policy's lineage: base model -> (SFT) -> GRPO checkpoint -> merged HF folder -> served URL,
 * each with the job and the training data manifest that made it. The newest served version of a
 * campaign before iteration k is the policy iteration k calls.
 */
export const modelVersions = pgTable(
  "model_versions",
  {
    /** `<campaign>:<iteration>:<kind>`: one per kind and iteration, written idempotently. */
    id: text("id").primaryKey(),
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    kind: text("kind").$type<ModelVersionKind>().notNull(),
    /** The version this one was made from (null: made from the base model). */
    parentId: text("parent_id"),
    /** The base model path or name training started from. */
    baseModel: text("base_model").notNull(),
    path: text("path"),
    url: text("url"),
    servedModel: text("served_model"),
    jobName: text("job_name"),
    /** The training data manifest (paths, counts, hashes) that produced it. */
    dataset: jsonb("dataset"),
    /** True when a stand-in trainer or the LLM simulator made or serves it. */
    simulated: boolean("simulated").notNull().default(false),
    details: jsonb("details"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /** A served version whose server was stopped (superseded, or `model stop`); null while it serves. */
    stoppedAt: timestamp("stopped_at", { withTimezone: true }),
  },
  (t) => [index("model_versions_campaign_idx").on(t.campaignId, t.iteration)],
);

/**
 * Why a sample is in an iteration's training pool: `seed` (first-round synthesis), `high_ppl` (the
 * policy found its label hard), `repaired` (a label the judges found wrong, replaced by the
 * prediction), `error_seed` (a sample the policy got wrong while its label was right), `expanded`
 * (a new sample around an error seed), `unused_seed` (a seed sample no pool has used yet).
 */
export const POOL_REASONS = ["seed", "high_ppl", "repaired", "error_seed", "expanded", "unused_seed"] as const;
export type PoolReason = (typeof POOL_REASONS)[number];

/** The training pool of each iteration (select.nextRound writes it; later stages of the iteration read it). */
export const poolMembers = pgTable(
  "pool_members",
  {
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    sampleId: text("sample_id").notNull(),
    reason: text("reason", { enum: POOL_REASONS }).notNull(),
    /** How much the sample counts in training (hard items by execution consistency weigh more). */
    weight: doublePrecision("weight").notNull().default(1),
    /** What put it there: the score, the judgement, the expansion's seed. */
    details: jsonb("details"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration, t.sampleId] }), index("pool_members_sample_idx").on(t.sampleId)],
);

export const SCORE_METRICS = ["label_ppl", "own_ppl", "consistency"] as const;
export type ScoreMetric = (typeof SCORE_METRICS)[number];

/**
 * Scores of samples under a policy: label perplexity and own-output perplexity (score.perplexity),
 * execution consistency (score.consistency). One row per sample, metric and the iteration that
 * scored it (under that iteration's policy, named in `model` and `modelVersionId`).
 */
export const sampleScores = pgTable(
  "sample_scores",
  {
    sampleId: text("sample_id").notNull(),
    /** The policy's model as served (the role's model name). */
    model: text("model").notNull(),
    metric: text("metric", { enum: SCORE_METRICS }).notNull(),
    campaignId: text("campaign_id").notNull(),
    /** The iteration whose stage computed it. */
    iteration: integer("iteration").notNull(),
    /** model_versions.id of the served policy, null for a policy no iteration served (the base model). */
    modelVersionId: text("model_version_id"),
    value: doublePrecision("value").notNull(),
    /** Token counts, the k samples' outcomes, the easy/hard split, ... */
    details: jsonb("details"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration, t.sampleId, t.metric] }), index("sample_scores_sample_idx").on(t.sampleId)],
);

/** probe.greedy: the policy's greedy answer on each pool sample and the matcher's verdict (strict mode) against the label. */
export const probeResults = pgTable(
  "probe_results",
  {
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    sampleId: text("sample_id").notNull(),
    model: text("model").notNull(),
    modelVersionId: text("model_version_id"),
    /**
     * The served checkpoint that answered (version id, folder, fingerprint, engine; src/training/servedCheckpoint.ts),
     * null for the configured policy: a retrain served again under the same name and version id is probed again.
     */
    servedCheckpoint: jsonb("served_checkpoint"),
    match: boolean("match").notNull(),
    /** The assistant message the policy produced (content and tool_calls). */
    prediction: jsonb("prediction").notNull(),
    /** The matcher's reasons for a mismatch (empty on a match). */
    reasons: jsonb("reasons").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration, t.sampleId] }), index("probe_results_mismatch_idx").on(t.campaignId, t.iteration, t.match)],
);

export const JUDGE_VERDICTS = ["PRED_WRONG", "LABEL_WRONG", "BOTH_CORRECT", "BOTH_WRONG"] as const;
export type JudgeVerdict = (typeof JUDGE_VERDICTS)[number];

/** Every vote of every judge on a probed mismatch (repair.labels); judge = `<role>#<sample>`. */
export const judgeVotes = pgTable(
  "judge_votes",
  {
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    sampleId: text("sample_id").notNull(),
    judge: text("judge").notNull(),
    model: text("model").notNull(),
    /** null when the judge's answer could not be read (its raw text is in analysis). */
    verdict: text("verdict", { enum: JUDGE_VERDICTS }),
    analysis: text("analysis").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration, t.sampleId, t.judge] })],
);

export const LABEL_ACTIONS = ["repaired", "kept_label", "kept_prediction", "dropped", "error_seed", "no_consensus", "repair_rejected"] as const;
export type LabelAction = (typeof LABEL_ACTIONS)[number];

/**
 * The committee's decision on each mismatch and what was done: LABEL_WRONG -> repaired (a new sample,
 * `resultSampleId`) or repair_rejected (the prediction failed the rules); BOTH_CORRECT -> kept_label
 * or kept_prediction (the higher-perplexity one); BOTH_WRONG -> dropped; PRED_WRONG -> error_seed.
 */
export const labelJudgements = pgTable(
  "label_judgements",
  {
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    sampleId: text("sample_id").notNull(),
    /** The consensus verdict, null when no verdict reached the threshold. */
    verdict: text("verdict", { enum: JUDGE_VERDICTS }),
    action: text("action", { enum: LABEL_ACTIONS }).notNull(),
    votes: integer("votes").notNull(),
    /** The sample the action produced (the repaired sample, the kept prediction). */
    resultSampleId: text("result_sample_id"),
    details: jsonb("details"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration, t.sampleId] }), index("label_judgements_action_idx").on(t.campaignId, t.iteration, t.action)],
);

/**
 * Candidates select.nextRound left out of a pool, with the reason: duplicate (exact or near) of a
 * kept sample, contaminated (a BFCL test query or function signature), over budget.
 */
export const selectionExclusions = pgTable(
  "selection_exclusions",
  {
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    sampleId: text("sample_id").notNull(),
    reason: text("reason").notNull(),
    details: jsonb("details"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration, t.sampleId] })],
);

/**
 * A multi-turn dialogue (synthesize.multiTurn), one per work slot; its id is the slot key. Written
 * when the slot starts, its plan once the planner answered, its outcome when it ends. A resumed batch
 * reads it back with its turns and continues at the last stored turn.
 */
export const dialogues = pgTable(
  "dialogues",
  {
    id: text("id").primaryKey(),
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    slot: integer("slot").notNull(),
    /** running | kept | dropped | failed (DialogueStatus). */
    status: text("status", { enum: DIALOGUE_STATUSES }).notNull().default("running"),
    persona: text("persona").notNull(),
    style: text("style").notNull(),
    tools: jsonb("tools").$type<McpTool[]>().notNull(),
    targetTurns: integer("target_turns").notNull(),
    seed: bigint("seed", { mode: "number" }).notNull(),
    plan: jsonb("plan").$type<DialoguePlan>(),
    /** The DialogueOutcome once it ended (counts, drop reason and detail). */
    outcome: jsonb("outcome").$type<DialogueOutcome>(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("dialogues_campaign_iteration_idx").on(t.campaignId, t.iteration, t.status)],
);

/** Every message of a dialogue in order, with what produced it (votes, reflection, negotiation): `turn` is a DialogueTurn. */
export const dialogueTurns = pgTable(
  "dialogue_turns",
  {
    dialogueId: text("dialogue_id").notNull(),
    seq: integer("seq").notNull(),
    /** system | user | assistant | tool */
    kind: text("kind").notNull(),
    turn: jsonb("turn").$type<DialogueTurn>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.dialogueId, t.seq] })],
);

/**
 * Each tool call a dialogue made, recorded before it is executed (started) and with its result after
 * (done): a resumed dialogue reuses a recorded result and never executes a call twice.
 */
export const toolExecutions = pgTable(
  "tool_executions",
  {
    dialogueId: text("dialogue_id").notNull(),
    callId: text("call_id").notNull(),
    name: text("name").notNull(),
    arguments: jsonb("arguments").notNull(),
    status: text("status", { enum: ["started", "done"] }).notNull(),
    result: jsonb("result").$type<ToolResult>(),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.dialogueId, t.callId] })],
);

export const SAMPLE_CHECK_VERDICTS = ["CORRECT", "INCORRECT"] as const;

/** Every vote of verify.judges' committee on a sample; judge = `<role>#<sample>`. */
export const sampleCheckVotes = pgTable(
  "sample_check_votes",
  {
    campaignId: text("campaign_id").notNull(),
    iteration: integer("iteration").notNull(),
    sampleId: text("sample_id").notNull(),
    judge: text("judge").notNull(),
    model: text("model").notNull(),
    /** null when the judge's answer could not be read (its raw text is in analysis). */
    verdict: text("verdict", { enum: SAMPLE_CHECK_VERDICTS }),
    analysis: text("analysis").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration, t.sampleId, t.judge] })],
);

/**
 * The builds of the workers that ran on this database (src/ops/workerBuilds.ts): one row a build,
 * upserted when a worker starts and refreshed while it runs. A worker whose build does not know a
 * field or value of a config asks it whether a newer build has been seen lately: if none has, the
 * config is wrong (a typo), not a newer build's, and fails at once instead of waiting for a worker
 * that will not come.
 */
export const workerBuilds = pgTable("worker_builds", {
  /** A hash of the build's package, version, commit, uncommitted-changes flag and build time. */
  buildId: text("build_id").primaryKey(),
  package: text("package").notNull(),
  version: text("version").notNull(),
  commit: text("commit"),
  dirty: boolean("dirty"),
  /** When the build was made (dist/build-info.json), null where unknown. */
  builtAt: timestamp("built_at", { withTimezone: true }),
  /**
   * The commit's own committer date (dist/build-info.json), null where unknown (builds before 0014, an
   * image built without TOOLLOOP_GIT_COMMIT_TIME): it orders builds of one version as rebuilds cannot.
   */
  committedAt: timestamp("committed_at", { withTimezone: true }),
  firstSeenAt: timestamp("first_seen_at", { withTimezone: true }).notNull().defaultNow(),
  lastSeenAt: timestamp("last_seen_at", { withTimezone: true }).notNull().defaultNow(),
  /** The last worker of the build that said it was alive (`pid@host`). */
  lastWorker: text("last_worker").notNull(),
});
