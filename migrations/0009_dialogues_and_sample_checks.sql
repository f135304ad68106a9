CREATE TABLE "dialogue_turns" (
	"dialogue_id" text NOT NULL,
	"seq" integer NOT NULL,
	"kind" text NOT NULL,
	"turn" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dialogue_turns_dialogue_id_seq_pk" PRIMARY KEY("dialogue_id","seq")
);
--> statement-breakpoint
CREATE TABLE "dialogues" (
	"id" text PRIMARY KEY NOT NULL,
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"slot" integer NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"persona" text NOT NULL,
	"style" text NOT NULL,
	"tools" jsonb NOT NULL,
	"target_turns" integer NOT NULL,
	"seed" bigint NOT NULL,
	"plan" jsonb,
	"outcome" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sample_check_votes" (
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"sample_id" text NOT NULL,
	"judge" text NOT NULL,
	"model" text NOT NULL,
	"verdict" text,
	"analysis" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sample_check_votes_campaign_id_iteration_sample_id_judge_pk" PRIMARY KEY("campaign_id","iteration","sample_id","judge")
);
--> statement-breakpoint
CREATE TABLE "tool_executions" (
	"dialogue_id" text NOT NULL,
	"call_id" text NOT NULL,
	"name" text NOT NULL,
	"arguments" jsonb NOT NULL,
	"status" text NOT NULL,
	"result" jsonb,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "tool_executions_dialogue_id_call_id_pk" PRIMARY KEY("dialogue_id","call_id")
);
--> statement-breakpoint
CREATE INDEX "dialogues_campaign_iteration_idx" ON "dialogues" USING btree ("campaign_id","iteration","status");