import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';

const SID = /^[A-Za-z0-9_-]{1,64}$/;

/** The voice webhook parameters we use. Twilio sends many more; they are kept (the signature covers all of them). */
export class TwilioVoiceWebhookDto {
  @ApiPropertyOptional({ example: 'CA0123456789abcdef0123456789abcdef' })
  @IsOptional()
  @IsString()
  @Matches(SID, { message: 'CallSid must be 1-64 letters, digits, _ or -' })
  CallSid?: string;

  @ApiPropertyOptional({ example: 'AC0123456789abcdef0123456789abcdef' })
  @IsOptional()
  @IsString()
  @Matches(SID)
  AccountSid?: string;

  @ApiPropertyOptional({ example: '+15551230000' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  From?: string;

  @ApiPropertyOptional({ example: '+15559870000' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  To?: string;

  @ApiPropertyOptional({ example: 'ringing' })
  @IsOptional()
  @IsString()
  @MaxLength(32)
  CallStatus?: string;

  @ApiPropertyOptional({ example: 'inbound' })
  @IsOptional()
  @IsString()
  @MaxLength(32)
  Direction?: string;
}
