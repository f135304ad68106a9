CREATE TABLE "training_datasets" (
	"campaign_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"dir" text NOT NULL,
	"manifest" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "training_datasets_campaign_iteration_uq" ON "training_datasets" USING btree ("campaign_id","iteration");