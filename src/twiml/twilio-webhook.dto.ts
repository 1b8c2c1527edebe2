import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength, type ValidationArguments } from 'class-validator';

const SID = /^[A-Za-z0-9_-]{1,64}$/;

/** The voice webhook parameters we use. Twilio sends many more; they are kept (the signature covers all of them). */
export class TwilioVoiceWebhookDto {
  // Twilio sends it with every call webhook: a request without one is not from Twilio's voice webhook (or a hand-made test).
  @ApiProperty({ example: 'CA0123456789abcdef0123456789abcdef' })
  @Matches(SID, {
    message: ({ value }: ValidationArguments) =>
      value === undefined
        ? "CallSid is required: Twilio sends one with every call; point the number's voice webhook here, or send CallSid when testing by hand"
        : 'CallSid must be 1-64 letters, digits, _ or -',
  })
  CallSid: string;

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
