CREATE TABLE "campaign_configs" (
	"campaign_id" text NOT NULL,
	"version" integer NOT NULL,
	"sha256" text NOT NULL,
	"schema_version" integer NOT NULL,
	"frozen" jsonb NOT NULL,
	"applies_from_iteration" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "campaign_configs_campaign_id_version_pk" PRIMARY KEY("campaign_id","version")
);
--> statement-breakpoint
CREATE TABLE "stage_batch_items" (
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"stage" text NOT NULL,
	"batch_index" integer NOT NULL,
	"sample_id" text NOT NULL,
	CONSTRAINT "stage_batch_items_campaign_id_iteration_stage_batch_index_sample_id_pk" PRIMARY KEY("campaign_id","iteration","stage","batch_index","sample_id")
);
--> statement-breakpoint
ALTER TABLE "samples" ADD COLUMN "exact_key" text;--> statement-breakpoint
ALTER TABLE "stage_runs" ADD COLUMN "items_total" integer;--> statement-breakpoint
CREATE INDEX "samples_campaign_iteration_exact_key_idx" ON "samples" USING btree ("campaign_id","iteration","exact_key");