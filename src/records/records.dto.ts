import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsDate, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { CALL_END_REASONS, CALL_EVENT_TYPES } from '../call-gateway/call-events';
import { SERVER_LOST } from './records.repository';

/** A record ends as a call does, or as `server-lost` when its server stopped without ending it. */
const RECORD_END_REASONS = [...CALL_END_REASONS, SERVER_LOST];

const EXAMPLE_SID = 'CA0123456789abcdef0123456789abcdef';
/** Same rule as the webhook's CallSid. */
export const SID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const toDate = ({ value }: { value: unknown }) => (typeof value === 'string' && value !== '' ? new Date(value) : value);
const toNumber = ({ value }: { value: unknown }) => (typeof value === 'string' && value !== '' ? Number(value) : value);

/** GET /calls query: every filter optional; results newest first. */
export class ListCallsQueryDto {
  @ApiPropertyOptional({ example: '2026-12-01T00:00:00Z', description: 'Calls started at or after this time' })
  @IsOptional()
  @Transform(toDate)
  @IsDate({ message: 'from must be an ISO 8601 date' })
  from?: Date;

  @ApiPropertyOptional({ example: '2026-12-02T00:00:00Z', description: 'Calls started at or before this time' })
  @IsOptional()
  @Transform(toDate)
  @IsDate({ message: 'to must be an ISO 8601 date' })
  to?: Date;

  @ApiPropertyOptional({ example: 'inbound', description: "Twilio's direction (inbound, outbound-api, …)" })
  @IsOptional()
  @IsString()
  @MaxLength(32)
  direction?: string;

  @ApiPropertyOptional({ example: '+1555123', description: "Part of the caller's or the called number" })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  number?: string;

  @ApiPropertyOptional({ example: 'caller-hung-up', description: `One of ${RECORD_END_REASONS.join(', ')}` })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  endReason?: string;

  @ApiPropertyOptional({ enum: ['realtime', 'live'], example: 'realtime' })
  @IsOptional()
  @IsIn(['realtime', 'live'])
  engine?: string;

  @ApiPropertyOptional({ example: 30, description: 'Only calls at least this long (seconds)' })
  @IsOptional()
  @Transform(toNumber)
  @IsInt()
  @Min(0)
  minDurationS?: number;

  @ApiPropertyOptional({ example: 'weather Paris', description: 'Words in the transcript (full-text search; quotes, OR and -word work)' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  q?: string;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({ example: 50, minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @Transform(toNumber)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;
}

export class StatsQueryDto {
  @ApiPropertyOptional({ example: '2026-11-01T00:00:00Z', description: 'Default: 30 days before `to`' })
  @IsOptional()
  @Transform(toDate)
  @IsDate({ message: 'from must be an ISO 8601 date' })
  from?: Date;

  @ApiPropertyOptional({ example: '2026-12-01T00:00:00Z', description: 'Default: now' })
  @IsOptional()
  @Transform(toDate)
  @IsDate({ message: 'to must be an ISO 8601 date' })
  to?: Date;
}

export class CallSidParamDto {
  @ApiProperty({ example: EXAMPLE_SID })
  @Matches(SID_PATTERN, { message: 'sid must be a CallSid (letters, digits, _ or -)' })
  sid: string;
}

export class CallUsageDto {
  @ApiProperty({ example: 4, description: 'Model responses' }) responses: number;
  @ApiProperty({ example: 5210, description: 'Input tokens, cached ones included' }) inputTokens: number;
  @ApiProperty({ example: 1210 }) inputTextTokens: number;
  @ApiProperty({ example: 4000 }) inputAudioTokens: number;
  @ApiProperty({ example: 3100, description: 'The part of inputTokens read from the cache (not added to it)' }) cachedTokens: number;
  @ApiProperty({ example: 2600 }) cachedAudioTokens: number;
  @ApiProperty({ example: 900 }) outputTokens: number;
  @ApiProperty({ example: 120 }) outputTextTokens: number;
  @ApiProperty({ example: 780 }) outputAudioTokens: number;
  @ApiProperty({ example: 62.4, nullable: true, type: Number, description: "Seconds of the caller's audio" }) audioInSeconds: number | null;
  @ApiProperty({ example: null, nullable: true, type: Number, description: 'Seconds of assistant audio (when the engine reports it)' })
  audioOutSeconds: number | null;
  @ApiProperty({ example: null, nullable: true, type: Number, description: 'Seconds billed by a per-second engine (GPT-Live)' })
  billedSeconds: number | null;
}

export class CallSummaryDto {
  @ApiProperty({ example: EXAMPLE_SID }) callSid: string;
  @ApiProperty({ example: 'MZ0123456789abcdef0123456789abcdef' }) streamSid: string;
  @ApiProperty({ example: 'inbound', nullable: true, type: String }) direction: string | null;
  @ApiProperty({ example: '+15551230000', nullable: true, type: String }) from: string | null;
  @ApiProperty({ example: '+15559870000', nullable: true, type: String }) to: string | null;
  @ApiProperty({ example: '2026-12-01T09:30:00.000Z' }) startedAt: string;
  @ApiProperty({ example: '2026-12-01T09:31:04.200Z', nullable: true, type: String, description: 'null while the call is live' }) endedAt: string | null;
  @ApiProperty({ example: 64200, nullable: true, type: Number }) durationMs: number | null;
  @ApiProperty({ example: 'caller-hung-up', nullable: true, enum: [...RECORD_END_REASONS, null], description: 'null while the call is live' }) endReason:
    string | null;
  @ApiProperty({ example: null, nullable: true, type: String, description: 'Why a failed call failed, in words' }) endDetail: string | null;
  @ApiProperty({ example: 'realtime', enum: ['realtime', 'live'] }) engine: string;
  @ApiProperty({ example: 'gpt-realtime-2.1' }) model: string;
  @ApiProperty({ example: 'marin' }) voice: string;
  @ApiProperty({ example: 3, nullable: true, type: Number, description: 'Saved agent configuration version (null: environment defaults)' })
  configVersion: number | null;
  @ApiProperty({ example: 'voice-1' }) instanceId: string;
  @ApiProperty({ example: 820, nullable: true, type: Number, description: 'Stream start to the first audio sent to the caller' }) firstAudioMs: number | null;
  @ApiProperty({ example: 1 }) bargeIns: number;
  @ApiProperty({ example: 0 }) reconnects: number;
  @ApiProperty({ example: 3210 }) framesIn: number;
  @ApiProperty({ example: 1405 }) framesOut: number;
  @ApiProperty({ type: CallUsageDto }) usage: CallUsageDto;
  @ApiProperty({ example: 0.0712, nullable: true, type: Number, description: 'USD; null = unknown (the model has no price: see PRICES_FILE)' })
  costUsd: number | null;
}

export class CallListDto {
  @ApiProperty({ type: [CallSummaryDto] }) calls: CallSummaryDto[];
  @ApiProperty({
    nullable: true,
    type: String,
    example: 'MjAyNi0xMi0wMVQwOTozMDowMC4wMDBafENBMDEyMw',
    description: 'Pass as `cursor` for the next page; null on the last',
  })
  nextCursor: string | null;
}

export class TranscriptItemDto {
  @ApiProperty({ example: 'item_Cx3fP0aQ2w8eVbN1kLmZr' }) itemId: string;
  @ApiProperty({ example: 'assistant', enum: ['user', 'assistant'] }) role: string;
  @ApiProperty({ example: 'It is 7 degrees in Paris right now.' }) text: string;
  @ApiProperty({ example: 5120, nullable: true, type: Number, description: "ms from the call's start to the first words" }) startMs: number | null;
  @ApiProperty({ example: 7400, nullable: true, type: Number, description: "ms from the call's start to the finished transcript" }) endMs: number | null;
  @ApiProperty({ example: 1480, nullable: true, type: Number, description: 'The caller barged in: the assistant was cut after this many ms of its audio' })
  interruptedAtMs: number | null;
}

export class ToolCallDto {
  @ApiProperty({ example: 'call_Tq8bQ2n9sXw1aZ0pLkJ3d' }) callId: string;
  @ApiProperty({ example: 'get_weather_from_coords' }) name: string;
  @ApiProperty({ example: '{"latitude":48.85,"longitude":2.35}' }) arguments: string;
  @ApiProperty({ example: '{"temperature_c":7.5}', nullable: true, type: String }) output: string | null;
  @ApiProperty({ example: 'success', enum: ['running', 'success', 'error', 'cancelled'] }) outcome: string;
  @ApiProperty({ example: null, nullable: true, type: String }) error: string | null;
  @ApiProperty({ example: 212, nullable: true, type: Number }) durationMs: number | null;
  @ApiProperty({ example: 'tool', nullable: true, enum: ['tool', 'operator', null], description: 'null while the tool call is running' }) answeredBy:
    string | null;
  @ApiProperty({ example: 5300, nullable: true, type: Number }) startMs: number | null;
}

export class CallEventDto {
  @ApiProperty({ example: 7 }) seq: number;
  @ApiProperty({ example: '2026-12-01T09:30:05.120Z' }) at: string;
  @ApiProperty({ example: 5120, description: "ms since the call's start" }) offsetMs: number;
  @ApiProperty({
    enum: CALL_EVENT_TYPES,
    example: 'barge_in',
    description: "A call event type (the dashboard socket's, /docs/asyncapi.json); transcript deltas are not kept",
  })
  type: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { itemId: 'item_Cx3fP0aQ2w8eVbN1kLmZr', audioEndMs: 1480, sentMs: 3000, items: 1 },
    description:
      "The event's own fields, as the dashboard socket sends them without `v`, `type`, `callSid` and `ts`: their shape per type is the payload of that message in /docs/asyncapi.json",
  })
  data: Record<string, unknown>;
}

export class CallRecordDto extends CallSummaryDto {
  @ApiProperty({ type: [TranscriptItemDto] }) transcript: TranscriptItemDto[];
  @ApiProperty({ type: [ToolCallDto] }) toolCalls: ToolCallDto[];
  @ApiProperty({ type: [CallEventDto], description: 'The events of the call but usage and cost (see GET /calls/{sid}/events for all)' })
  timeline: CallEventDto[];
}

export class CallEventsDto {
  @ApiProperty({ example: EXAMPLE_SID }) callSid: string;
  @ApiProperty({ type: [CallEventDto] }) events: CallEventDto[];
}

export class DayStatsDto {
  @ApiProperty({ example: '2026-12-01', description: 'UTC day' }) day: string;
  @ApiProperty({ example: 42 }) calls: number;
  @ApiProperty({ example: 97.5 }) minutes: number;
  @ApiProperty({ example: 3.21 }) costUsd: number;
  @ApiProperty({ example: 810, nullable: true, type: Number }) meanFirstAudioMs: number | null;
  @ApiProperty({ example: 12 }) bargeIns: number;
  @ApiProperty({ example: 1 }) failures: number;
}

export class CallStatsDto {
  @ApiProperty({ example: '2026-11-01T00:00:00.000Z' }) from: string;
  @ApiProperty({ example: '2026-12-01T00:00:00.000Z' }) to: string;
  @ApiProperty({ example: 420 }) calls: number;
  @ApiProperty({ example: 975.2 }) minutes: number;
  @ApiProperty({ example: 32.1, description: 'USD, over the calls whose cost is known' }) costUsd: number;
  @ApiProperty({ example: 0, description: 'Ended calls whose cost is unknown (not in costUsd)' }) unpricedCalls: number;
  @ApiProperty({ example: 805, nullable: true, type: Number }) meanFirstAudioMs: number | null;
  @ApiProperty({ example: 131 }) bargeIns: number;
  @ApiProperty({
    example: 6,
    description: 'Calls that ended in model-unavailable, backpressure, protocol-error, internal-error, twilio-disconnected or media-timeout',
  })
  failures: number;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'integer' },
    example: { 'caller-hung-up': 380, 'agent-ended': 34, 'model-unavailable': 6 },
    description: 'Ended calls by end reason (only the reasons that occurred)',
  })
  endReasons: Record<string, number>;
  @ApiProperty({ type: [DayStatsDto] }) days: DayStatsDto[];
}
