import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { AppConfig } from './config/app-config';
import { CallRegistry } from './call-gateway/call-registry.service';

class StatusDto {
  @ApiProperty({ example: 'voice-agent-backend' }) service: string;
  @ApiProperty({ example: 'ok' }) status: string;
  @ApiProperty({ example: 3 }) activeCalls: number;
  @ApiProperty({ example: 100 }) capacity: number;
  @ApiProperty({ example: 42 }) uptimeS: number;
  @ApiProperty({ type: [String], example: [], description: 'Variables that must be set before calls can be taken' }) missingConfig: string[];
}

class PublicUrlDto {
  @ApiPropertyOptional({ example: 'https://example.ngrok.app', nullable: true }) publicUrl: string | null;
  @ApiPropertyOptional({ example: 'https://example.ngrok.app/twiml', nullable: true, description: "Set this as the Twilio number's voice webhook (HTTP POST)" })
  webhookUrl: string | null;
  @ApiPropertyOptional({ example: 'wss://example.ngrok.app/ws/call', nullable: true }) streamUrl: string | null;
}

@ApiTags('status')
@Controller()
export class AppController {
  constructor(
    private readonly config: AppConfig,
    private readonly registry: CallRegistry,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Service status' })
  @ApiOkResponse({ type: StatusDto })
  status(): StatusDto {
    const missing = this.config.missingForCalls;
    return {
      service: 'voice-agent-backend',
      status: missing.length === 0 ? 'ok' : 'not configured',
      activeCalls: this.registry.activeCount,
      capacity: this.registry.capacity,
      uptimeS: Math.round(process.uptime()),
      missingConfig: missing,
    };
  }

  @Get('public-url')
  @ApiOperation({ summary: 'The public URLs Twilio uses' })
  @ApiOkResponse({ type: PublicUrlDto })
  publicUrl(): PublicUrlDto {
    return {
      publicUrl: this.config.PUBLIC_URL ?? null,
      webhookUrl: this.config.publicUrl('/twiml') ?? null,
      streamUrl: this.config.streamUrl('/ws/call') ?? null,
    };
  }
}
