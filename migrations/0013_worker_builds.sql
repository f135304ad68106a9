CREATE TABLE "worker_builds" (
	"build_id" text PRIMARY KEY NOT NULL,
	"package" text NOT NULL,
	"version" text NOT NULL,
	"commit" text,
	"dirty" boolean,
	"built_at" timestamp with time zone,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_worker" text NOT NULL
);
