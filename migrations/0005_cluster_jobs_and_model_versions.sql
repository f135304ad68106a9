CREATE TABLE "cluster_jobs" (
	"name" text PRIMARY KEY NOT NULL,
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"stage" text NOT NULL,
	"attempt" integer NOT NULL,
	"launcher" text NOT NULL,
	"external_id" text,
	"request" jsonb NOT NULL,
	"state" text NOT NULL,
	"exit_code" integer,
	"message" text,
	"progress" jsonb,
	"submitted_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "model_versions" (
	"id" text PRIMARY KEY NOT NULL,
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"kind" text NOT NULL,
	"parent_id" text,
	"base_model" text NOT NULL,
	"path" text,
	"url" text,
	"served_model" text,
	"job_name" text,
	"dataset" jsonb,
	"simulated" boolean DEFAULT false NOT NULL,
	"details" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "cluster_jobs_stage_idx" ON "cluster_jobs" USING btree ("campaign_id","iteration","stage");--> statement-breakpoint
CREATE INDEX "model_versions_campaign_idx" ON "model_versions" USING btree ("campaign_id","iteration");