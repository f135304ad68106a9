CREATE TABLE "judge_votes" (
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"sample_id" text NOT NULL,
	"judge" text NOT NULL,
	"model" text NOT NULL,
	"verdict" text,
	"analysis" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "judge_votes_campaign_id_iteration_sample_id_judge_pk" PRIMARY KEY("campaign_id","iteration","sample_id","judge")
);
--> statement-breakpoint
CREATE TABLE "label_judgements" (
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"sample_id" text NOT NULL,
	"verdict" text,
	"action" text NOT NULL,
	"votes" integer NOT NULL,
	"result_sample_id" text,
	"details" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "label_judgements_campaign_id_iteration_sample_id_pk" PRIMARY KEY("campaign_id","iteration","sample_id")
);
--> statement-breakpoint
CREATE TABLE "pool_members" (
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"sample_id" text NOT NULL,
	"reason" text NOT NULL,
	"weight" double precision DEFAULT 1 NOT NULL,
	"details" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pool_members_campaign_id_iteration_sample_id_pk" PRIMARY KEY("campaign_id","iteration","sample_id")
);
--> statement-breakpoint
CREATE TABLE "probe_results" (
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"sample_id" text NOT NULL,
	"model" text NOT NULL,
	"model_version_id" text,
	"match" boolean NOT NULL,
	"prediction" jsonb NOT NULL,
	"reasons" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "probe_results_campaign_id_iteration_sample_id_pk" PRIMARY KEY("campaign_id","iteration","sample_id")
);
--> statement-breakpoint
CREATE TABLE "sample_scores" (
	"sample_id" text NOT NULL,
	"model" text NOT NULL,
	"metric" text NOT NULL,
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"model_version_id" text,
	"value" double precision NOT NULL,
	"details" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sample_scores_campaign_id_iteration_sample_id_metric_pk" PRIMARY KEY("campaign_id","iteration","sample_id","metric")
);
--> statement-breakpoint
CREATE TABLE "selection_exclusions" (
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"sample_id" text NOT NULL,
	"reason" text NOT NULL,
	"details" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "selection_exclusions_campaign_id_iteration_sample_id_pk" PRIMARY KEY("campaign_id","iteration","sample_id")
);
--> statement-breakpoint
ALTER TABLE "samples" ADD COLUMN "stage" text;--> statement-breakpoint
CREATE INDEX "label_judgements_action_idx" ON "label_judgements" USING btree ("campaign_id","iteration","action");--> statement-breakpoint
CREATE INDEX "pool_members_sample_idx" ON "pool_members" USING btree ("sample_id");--> statement-breakpoint
CREATE INDEX "probe_results_mismatch_idx" ON "probe_results" USING btree ("campaign_id","iteration","match");--> statement-breakpoint
CREATE INDEX "sample_scores_sample_idx" ON "sample_scores" USING btree ("sample_id");