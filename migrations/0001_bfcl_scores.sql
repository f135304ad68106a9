CREATE TABLE "bfcl_scores" (
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"evaluator" text NOT NULL,
	"category" text NOT NULL,
	"correct" integer NOT NULL,
	"total" integer NOT NULL,
	"accuracy" double precision NOT NULL,
	"details" jsonb,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "bfcl_scores_campaign_id_iteration_evaluator_category_pk" PRIMARY KEY("campaign_id","iteration","evaluator","category")
);
