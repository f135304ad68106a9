CREATE TABLE "campaigns" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"config" jsonb NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dataset_exports" (
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"path" text NOT NULL,
	"manifest" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dataset_exports_campaign_id_iteration_pk" PRIMARY KEY("campaign_id","iteration")
);
--> statement-breakpoint
CREATE TABLE "iterations" (
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"summary" jsonb,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "iterations_campaign_id_iteration_pk" PRIMARY KEY("campaign_id","iteration")
);
--> statement-breakpoint
CREATE TABLE "llm_usage" (
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"stage" text NOT NULL,
	"role" text NOT NULL,
	"model" text NOT NULL,
	"requests" bigint DEFAULT 0 NOT NULL,
	"prompt_tokens" bigint DEFAULT 0 NOT NULL,
	"completion_tokens" bigint DEFAULT 0 NOT NULL,
	"failures" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "llm_usage_campaign_id_iteration_stage_role_model_pk" PRIMARY KEY("campaign_id","iteration","stage","role","model")
);
--> statement-breakpoint
CREATE TABLE "samples" (
	"id" text PRIMARY KEY NOT NULL,
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"kind" text NOT NULL,
	"origin" text NOT NULL,
	"parent_id" text,
	"slot_key" text,
	"messages" jsonb NOT NULL,
	"tools" jsonb NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"verdicts" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stage_batches" (
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"stage" text NOT NULL,
	"batch_index" integer NOT NULL,
	"result" jsonb NOT NULL,
	"finished_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stage_batches_campaign_id_iteration_stage_batch_index_pk" PRIMARY KEY("campaign_id","iteration","stage","batch_index")
);
--> statement-breakpoint
CREATE TABLE "stage_runs" (
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"stage" text NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 1 NOT NULL,
	"batches_total" integer,
	"result" jsonb,
	"error" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "stage_runs_campaign_id_iteration_stage_pk" PRIMARY KEY("campaign_id","iteration","stage")
);
--> statement-breakpoint
CREATE TABLE "tools" (
	"campaign_id" text NOT NULL,
	"name" text NOT NULL,
	"domain" text,
	"source" text NOT NULL,
	"definition" jsonb NOT NULL,
	"hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tools_campaign_id_name_pk" PRIMARY KEY("campaign_id","name")
);
--> statement-breakpoint
ALTER TABLE "iterations" ADD CONSTRAINT "iterations_campaign_id_campaigns_id_fk" FOREIGN KEY ("campaign_id") REFERENCES "public"."campaigns"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "samples_slot_key_uq" ON "samples" USING btree ("slot_key");--> statement-breakpoint
CREATE INDEX "samples_campaign_iteration_status_idx" ON "samples" USING btree ("campaign_id","iteration","status");