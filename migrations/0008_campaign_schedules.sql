ALTER TABLE "campaigns" ADD COLUMN "workflow_id" text;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "schedule_id" text;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "scheduled_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "campaigns" ADD COLUMN "continues_from" text;--> statement-breakpoint
CREATE INDEX "campaigns_schedule_idx" ON "campaigns" USING btree ("schedule_id","scheduled_at");