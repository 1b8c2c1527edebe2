CREATE TABLE "agent_configs" (
	"version" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "agent_configs_version_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"settings" jsonb NOT NULL,
	"saved_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "call_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "call_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"call_sid" text NOT NULL,
	"seq" integer NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"offset_ms" integer NOT NULL,
	"type" text NOT NULL,
	"data" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "calls" (
	"call_sid" text PRIMARY KEY NOT NULL,
	"stream_sid" text NOT NULL,
	"direction" text,
	"from_number" text,
	"to_number" text,
	"started_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone,
	"duration_ms" integer,
	"end_reason" text,
	"end_detail" text,
	"engine" text NOT NULL,
	"model" text NOT NULL,
	"voice" text NOT NULL,
	"config_version" integer,
	"instance_id" text NOT NULL,
	"first_audio_ms" integer,
	"barge_ins" integer DEFAULT 0 NOT NULL,
	"reconnects" integer DEFAULT 0 NOT NULL,
	"frames_in" integer DEFAULT 0 NOT NULL,
	"frames_out" integer DEFAULT 0 NOT NULL,
	"responses" integer DEFAULT 0 NOT NULL,
	"input_tokens" integer DEFAULT 0 NOT NULL,
	"input_text_tokens" integer DEFAULT 0 NOT NULL,
	"input_audio_tokens" integer DEFAULT 0 NOT NULL,
	"cached_tokens" integer DEFAULT 0 NOT NULL,
	"cached_audio_tokens" integer DEFAULT 0 NOT NULL,
	"output_tokens" integer DEFAULT 0 NOT NULL,
	"output_text_tokens" integer DEFAULT 0 NOT NULL,
	"output_audio_tokens" integer DEFAULT 0 NOT NULL,
	"audio_in_seconds" double precision,
	"audio_out_seconds" double precision,
	"billed_seconds" double precision,
	"cost_usd" double precision,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tool_calls" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "tool_calls_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"call_sid" text NOT NULL,
	"tool_call_id" text NOT NULL,
	"name" text NOT NULL,
	"arguments" text NOT NULL,
	"output" text,
	"outcome" text NOT NULL,
	"error" text,
	"duration_ms" integer,
	"answered_by" text,
	"start_ms" integer
);
--> statement-breakpoint
CREATE TABLE "transcript_items" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "transcript_items_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"call_sid" text NOT NULL,
	"item_id" text NOT NULL,
	"role" text NOT NULL,
	"text" text DEFAULT '' NOT NULL,
	"start_ms" integer,
	"end_ms" integer,
	"interrupted_at_ms" integer
);
--> statement-breakpoint
CREATE TABLE "webhook_outbox" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "webhook_outbox_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"call_sid" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"url" text NOT NULL,
	"payload" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"locked_until" timestamp with time zone,
	"last_error" text,
	"delivered_at" timestamp with time zone,
	"failed_at" timestamp with time zone,
	"done" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE INDEX "call_events_call_seq_idx" ON "call_events" USING btree ("call_sid","seq");--> statement-breakpoint
CREATE INDEX "calls_started_idx" ON "calls" USING btree ("started_at" DESC NULLS LAST,"call_sid" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "calls_from_idx" ON "calls" USING btree ("from_number");--> statement-breakpoint
CREATE INDEX "calls_to_idx" ON "calls" USING btree ("to_number");--> statement-breakpoint
CREATE UNIQUE INDEX "tool_calls_call_id_idx" ON "tool_calls" USING btree ("call_sid","tool_call_id");--> statement-breakpoint
CREATE UNIQUE INDEX "transcript_items_call_item_idx" ON "transcript_items" USING btree ("call_sid","item_id");--> statement-breakpoint
CREATE INDEX "transcript_items_search_idx" ON "transcript_items" USING gin (to_tsvector('english', "text"));--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_outbox_key_idx" ON "webhook_outbox" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "webhook_outbox_due_idx" ON "webhook_outbox" USING btree ("done","next_attempt_at");