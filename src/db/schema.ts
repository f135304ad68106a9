/**
 * Application tables. Later stages add their own tables in new migrations; nothing here needs a
 * rewrite for that: per-stage results are JSONB, samples carry kind/origin/parent for lineage.
 */
import { sql } from "drizzle-orm";
import { bigint, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import type { ChatMessage, McpTool, Verdict } from "../domain/types.js";

export const campaigns = pgTable("campaigns", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  config: jsonb("config").notNull(),
  status: text("status").notNull().default("running"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

export const iterations = pgTable(
  "iterations",
  {
    campaignId: text("campaign_id").notNull().references(() => campaigns.id, { onDelete: "cascade" }),
    iteration: integer("iteration").notNull(),
    status: text("status").notNull().default("running"),
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
    status: text("status").notNull(), // running | succeeded | failed | skipped
    attempts: integer("attempts").notNull().default(1),
    batchesTotal: integer("batches_total"),
    result: jsonb("result"),
    error: text("error"),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration, t.stage] })],
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
    parentId: text("parent_id"),
    /** Work slot that produced it (campaign/iteration/stage/index): makes re-runs write once. */
    slotKey: text("slot_key"),
    messages: jsonb("messages").$type<ChatMessage[]>().notNull(),
    tools: jsonb("tools").$type<McpTool[]>().notNull(),
    status: text("status").notNull().default("pending"), // pending | verified | rejected
    verdicts: jsonb("verdicts").$type<Verdict[]>().notNull().default(sql`'[]'::jsonb`),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("samples_slot_key_uq").on(t.slotKey),
    index("samples_campaign_iteration_status_idx").on(t.campaignId, t.iteration, t.status),
  ],
);

/** Token accounting per role and stage; activities add to it with an upsert. */
export const llmUsage = pgTable(
  "llm_usage",
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
    correct: integer("correct").notNull(),
    total: integer("total").notNull(),
    accuracy: doublePrecision("accuracy").notNull(),
    /** Where the number came from (score file path, package version, limit) for audits. */
    details: jsonb("details"),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.campaignId, t.iteration, t.evaluator, t.category] })],
);
