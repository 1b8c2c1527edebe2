import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsNumber, IsObject, IsOptional, IsString, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { REALTIME_VOICES, VOICE_ENGINES } from '../config/app-config';

export const TURN_DETECTION_TYPES = ['server_vad', 'semantic_vad'] as const;
export const EAGERNESS = ['low', 'medium', 'high', 'auto'] as const;
export const MAX_INSTRUCTIONS_CHARS = 20_000;

/** Turn detection in our own names; values left out keep the saved ones (or the environment's). */
export class TurnDetectionDto {
  @ApiProperty({ enum: TURN_DETECTION_TYPES, example: 'server_vad' })
  @IsIn(TURN_DETECTION_TYPES)
  type: (typeof TURN_DETECTION_TYPES)[number];

  @ApiPropertyOptional({ minimum: 0, maximum: 1, example: 0.5, description: 'server_vad: activation threshold' })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1)
  threshold?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 5000, example: 300, description: 'server_vad: audio kept before detected speech' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(5000)
  prefixPaddingMs?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 10000, example: 500, description: "server_vad: silence that ends the caller's turn" })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10000)
  silenceDurationMs?: number;

  @ApiPropertyOptional({ enum: EAGERNESS, example: 'auto', description: 'semantic_vad: how eagerly the model answers' })
  @IsOptional()
  @IsIn(EAGERNESS)
  eagerness?: (typeof EAGERNESS)[number];
}

/** PUT /session-config and the socket's `config.update`: every field optional, fields left out stay as they are. */
export class SessionConfigUpdateDto {
  @ApiPropertyOptional({
    enum: VOICE_ENGINES,
    example: 'live',
    description: 'The voice API new calls run on (VOICE_ENGINE by default). Fixed for a call once it is answered: a running call refuses a change',
  })
  @IsOptional()
  @IsIn(VOICE_ENGINES)
  engine?: (typeof VOICE_ENGINES)[number];

  @ApiPropertyOptional({
    maxLength: MAX_INSTRUCTIONS_CHARS,
    example: 'You are a friendly phone assistant for Acme.',
    description:
      "A running GPT-Live call replaces its Responses backend's instructions and appends the new ones to its voice model's (at most about 500 tokens), which cannot be replaced",
  })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(MAX_INSTRUCTIONS_CHARS)
  instructions?: string;

  @ApiPropertyOptional({
    enum: REALTIME_VOICES,
    example: 'marin',
    description: 'Cannot change on a running Realtime call once the assistant has spoken, nor at all on a running GPT-Live call',
  })
  @IsOptional()
  @IsIn(REALTIME_VOICES)
  voice?: string;

  @ApiPropertyOptional({ type: TurnDetectionDto, description: 'Realtime only: GPT-Live has no turn-detection setting (ignored by its calls)' })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => TurnDetectionDto)
  turnDetection?: TurnDetectionDto;

  @ApiPropertyOptional({
    type: [String],
    example: ['get_weather_from_coords', 'end_call'],
    description: 'Names of the tools offered to the model (see GET /tools)',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  enabledTools?: string[];
}

/** The saved configuration every new call starts with. */
export class SessionConfigDto {
  @ApiProperty({ enum: VOICE_ENGINES }) engine: (typeof VOICE_ENGINES)[number];
  @ApiProperty() instructions: string;
  @ApiProperty({ enum: REALTIME_VOICES }) voice: string;
  @ApiProperty({ type: TurnDetectionDto }) turnDetection: TurnDetectionDto;
  @ApiProperty({ type: [String] }) enabledTools: string[];
  @ApiProperty({ type: [String], description: 'Every registered tool (ask_operator is offered only while a dashboard is open)' }) availableTools: string[];
  @ApiProperty({ type: [String] }) availableVoices: string[];
  @ApiProperty({ type: [String] }) availableEngines: string[];
}
