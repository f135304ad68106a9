CREATE TABLE "activity_failures" (
	"workflow_id" text NOT NULL,
	"run_id" text NOT NULL,
	"activity_id" text NOT NULL,
	"attempt" integer NOT NULL,
	"activity_type" text NOT NULL,
	"error_type" text NOT NULL,
	"message" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "activity_failures_run_id_activity_id_attempt_pk" PRIMARY KEY("run_id","activity_id","attempt")
);
--> statement-breakpoint
CREATE TABLE "llm_requests" (
	"id" text PRIMARY KEY NOT NULL,
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"stage" text NOT NULL,
	"batch_index" integer,
	"role" text NOT NULL,
	"model" text NOT NULL,
	"status" text NOT NULL,
	"prompt_tokens" integer DEFAULT 0 NOT NULL,
	"completion_tokens" integer DEFAULT 0 NOT NULL,
	"sent_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "stage_slot_outcomes" (
	"slot_key" text PRIMARY KEY NOT NULL,
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"stage" text NOT NULL,
	"slot" integer NOT NULL,
	"outcome" text NOT NULL,
	"detail" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
-- Keep the pre-ledger totals (the view below still sums them): upgrading loses no accounting.
ALTER TABLE "llm_usage" RENAME TO "llm_usage_legacy";--> statement-breakpoint
ALTER TABLE "llm_usage_legacy" RENAME CONSTRAINT "llm_usage_campaign_id_iteration_stage_role_model_pk" TO "llm_usage_legacy_campaign_id_iteration_stage_role_model_pk";--> statement-breakpoint
CREATE INDEX "llm_requests_campaign_stage_idx" ON "llm_requests" USING btree ("campaign_id","iteration","stage");--> statement-breakpoint
CREATE INDEX "stage_slot_outcomes_stage_idx" ON "stage_slot_outcomes" USING btree ("campaign_id","iteration","stage","slot");--> statement-breakpoint
CREATE VIEW "public"."llm_usage" AS (
  select campaign_id, iteration, stage, role, model, sum(requests)::bigint as requests, sum(prompt_tokens)::bigint as prompt_tokens,
    sum(completion_tokens)::bigint as completion_tokens, sum(failures)::bigint as failures, sum(outcome_unknown)::bigint as outcome_unknown
  from (
    select campaign_id, iteration, stage, role, model, 1 as requests, prompt_tokens, completion_tokens,
      (status = 'failed')::int as failures, (status = 'sent')::int as outcome_unknown
    from llm_requests
    union all
    select campaign_id, iteration, stage, role, model, requests, prompt_tokens, completion_tokens, failures, 0 from llm_usage_legacy
  ) as u
  group by campaign_id, iteration, stage, role, model);