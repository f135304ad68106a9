CREATE TABLE "iteration_steps" (
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"step" text NOT NULL,
	"execution" text NOT NULL,
	"retries" integer DEFAULT 0 NOT NULL,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "iteration_steps_campaign_id_iteration_step_execution_pk" PRIMARY KEY("campaign_id","iteration","step","execution")
);
