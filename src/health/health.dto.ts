import { ApiProperty, ApiPropertyOptional, type ApiPropertyOptions } from '@nestjs/swagger';

// What /health, /health/live and /health/ready answer, check by check, for the API description
// (Terminus' own schema is generic and shows a "database" check of its own invention). The
// fields are those the indicators in this folder and src/records report.

const CHECK_STATUS = ['up', 'degraded', 'down'];

class CheckDto {
  @ApiProperty({ enum: CHECK_STATUS, example: 'up', description: '`degraded` does not fail the check (HTTP stays 200); `down` does (503)' })
  status: string;
}

export class ConfigCheckDto extends CheckDto {
  @ApiPropertyOptional({ type: [String], example: ['OPENAI_API_KEY'], description: 'When down: the variables to set before calls can be taken' })
  missing?: string[];
}

export class CallsCheckDto extends CheckDto {
  @ApiProperty({ example: 3, description: 'Calls streaming now' }) active: number;
  @ApiProperty({ example: 1, description: 'Calls answered by the webhook whose stream has not started yet' }) reserved: number;
  @ApiProperty({ example: 100, description: 'MAX_CONCURRENT_CALLS; down when active + reserved reach it' }) capacity: number;
}

export class DrainCheckDto extends CheckDto {
  @ApiProperty({ example: false, description: 'Down from SIGTERM/SIGINT on, while live calls finish' }) draining: boolean;
}

export class EventLoopCheckDto extends CheckDto {
  @ApiProperty({ example: 12.5, description: 'Event-loop delay over the last 5-10 s' }) delayMaxMs: number;
  @ApiProperty({ example: 3.1 }) delayP99Ms: number;
  @ApiProperty({ example: 1.2 }) delayMeanMs: number;
  @ApiProperty({ example: 5 }) samples: number;
  @ApiProperty({ example: 1000, description: 'HEALTH_MAX_EVENT_LOOP_DELAY_MS: down at or above it' }) limitMs: number;
}

export class HeapCheckDto extends CheckDto {
  @ApiPropertyOptional({ example: 'Used heap exceeded the set threshold', description: 'When down (over 1.5 GB)' }) message?: string;
}

export class ProcessCheckDto extends CheckDto {
  @ApiProperty({ example: 4242 }) pid: number;
  @ApiProperty({ example: 3600 }) uptimeS: number;
  @ApiProperty({ example: 180 }) rssMb: number;
  @ApiProperty({ example: 60 }) heapUsedMb: number;
  @ApiProperty({ example: 90 }) heapTotalMb: number;
  @ApiProperty({ type: [Number], example: [0.42, 0.3, 0.25], description: '1, 5 and 15 minutes' }) loadAverage: number[];
}

/** ModelProblem (src/openai/model-failure.ts), inline: OpenAPI 3.0 cannot make a referenced schema nullable. */
const MODEL_PROBLEM: ApiPropertyOptions = {
  type: 'object',
  nullable: true,
  additionalProperties: false,
  required: ['kind', 'message'],
  properties: {
    kind: { type: 'string', enum: ['auth', 'model', 'quota', 'network', 'service'], example: 'auth' },
    message: { type: 'string', example: 'the Realtime API refused the key (401): check OPENAI_API_KEY', description: 'The cause and its fix' },
  },
};

export class ModelCheckDto extends CheckDto {
  @ApiProperty({
    example: true,
    description: 'False (check degraded, still 200) after 3 failed connections in a row, or one refused key, model or quota',
  })
  reachable: boolean;
  @ApiProperty({ example: 10, description: 'Connection outcomes remembered (the last 10 of real calls)' }) recent: number;
  @ApiProperty({ example: 0 }) failures: number;
  @ApiProperty({ example: 0 }) consecutiveFailures: number;
  @ApiProperty({ example: 310, nullable: true, type: Number, description: 'Handshake time of the last successful connection' }) lastConnectMs: number | null;
  @ApiProperty({ example: '2026-11-25T12:00:00.000Z', nullable: true, type: String }) lastSuccessAt: string | null;
  @ApiProperty({ example: null, nullable: true, type: String }) lastFailureAt: string | null;
  @ApiProperty({ example: null, nullable: true, type: String, description: 'Close code and reason, e.g. "1006 HTTP 401 from Realtime API"' })
  lastFailure: string | null;
  @ApiProperty({ ...MODEL_PROBLEM, description: 'While unreachable: what is wrong and what to do' })
  problem: { kind: string; message: string } | null;
}

export class WarningsCheckDto extends CheckDto {
  @ApiProperty({
    type: [String],
    example: [],
    description: 'Unsafe settings, each naming its fix (degraded while there is any)',
  })
  warnings: string[];
}

export class DatabaseCheckDto extends CheckDto {
  @ApiPropertyOptional({ example: false, description: 'Only `false`, when RECORDS=off (then nothing else is reported)' }) enabled?: boolean;
  @ApiPropertyOptional({ enum: ['pglite', 'postgres'], example: 'pglite' }) kind?: string;
  @ApiPropertyOptional({ enum: ['opening', 'open', 'unavailable', 'closed'], example: 'open' }) state?: string;
  @ApiPropertyOptional({ example: 0, description: 'Writes waiting for the next flush' }) queued?: number;
  @ApiPropertyOptional({ example: 1200 }) written?: number;
  @ApiPropertyOptional({ example: 0 }) failed?: number;
  @ApiPropertyOptional({ example: 0, description: 'Dropped because the queue was full' }) dropped?: number;
  @ApiPropertyOptional({ example: null, nullable: true, type: String }) failingSince?: string | null;
  @ApiPropertyOptional({ example: null, nullable: true, type: String }) lastError?: string | null;
}

export class OutboxStatusDto {
  @ApiProperty({ example: 0 }) pending: number;
  @ApiProperty({ example: 0, description: 'Pending deliveries that failed at least once' }) retrying: number;
  @ApiProperty({ example: 0 }) failed: number;
  @ApiProperty({ example: 57 }) delivered: number;
  @ApiProperty({ example: null, nullable: true, type: String }) oldestPendingAt: string | null;
  @ApiProperty({ example: null, nullable: true, type: String }) lastError: string | null;
}

export class PostCallWebhookCheckDto extends CheckDto {
  @ApiProperty({ example: true, description: 'POST_CALL_WEBHOOK_URL is set (when false, nothing else is reported)' }) configured: boolean;
  @ApiPropertyOptional({ example: 57 }) delivered?: number;
  @ApiPropertyOptional({ example: 0 }) failedAttempts?: number;
  @ApiPropertyOptional({ example: 0 }) gaveUp?: number;
  @ApiPropertyOptional({ example: 0 }) consecutiveFailures?: number;
  @ApiPropertyOptional({ example: null, nullable: true, type: String }) lastError?: string | null;
  @ApiPropertyOptional({ type: OutboxStatusDto, nullable: true }) outbox?: OutboxStatusDto | null;
}

/** The checks by name; each endpoint reports its own subset. */
export class HealthChecksDto {
  @ApiPropertyOptional({ type: ConfigCheckDto, description: 'OPENAI_API_KEY and PUBLIC_URL are set' }) config?: ConfigCheckDto;
  @ApiPropertyOptional({ type: CallsCheckDto }) calls?: CallsCheckDto;
  @ApiPropertyOptional({ type: DrainCheckDto }) drain?: DrainCheckDto;
  @ApiPropertyOptional({ type: EventLoopCheckDto }) eventLoop?: EventLoopCheckDto;
  @ApiPropertyOptional({ type: HeapCheckDto }) heap?: HeapCheckDto;
  @ApiPropertyOptional({ type: ProcessCheckDto }) process?: ProcessCheckDto;
  @ApiPropertyOptional({ type: ModelCheckDto, description: 'Whether the voice model was reachable on the last connections of real calls' })
  model?: ModelCheckDto;
  @ApiPropertyOptional({ type: WarningsCheckDto }) warnings?: WarningsCheckDto;
  @ApiPropertyOptional({ type: DatabaseCheckDto, description: 'The call records database (never down: calls go on without it)' })
  database?: DatabaseCheckDto;
  @ApiPropertyOptional({ type: PostCallWebhookCheckDto }) postCallWebhook?: PostCallWebhookCheckDto;
}

export class HealthResultDto {
  @ApiProperty({
    enum: ['ok', 'degraded', 'error', 'shutting_down'],
    example: 'ok',
    description: '`degraded`: a check is degraded (still HTTP 200); `error`: a check is down (503)',
  })
  status: string;
  @ApiPropertyOptional({ type: HealthChecksDto, description: 'The checks that are up or degraded. Absent in production without the dashboard token' })
  info?: HealthChecksDto;
  @ApiPropertyOptional({ type: HealthChecksDto, description: 'The checks that are down. Absent in production without the dashboard token' })
  error?: HealthChecksDto;
  @ApiPropertyOptional({ type: HealthChecksDto, description: 'Every check. Absent in production without the dashboard token' })
  details?: HealthChecksDto;
}
