import { Controller, Get, Req, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { DetailsGuard } from './access/dashboard-auth.guard';
import { ApiDetailsAccess, ApiOptionalDashboardToken } from './api-description';
import { DashboardAuth } from './access/dashboard-auth.service';
import { AppConfig } from './config/app-config';
import { CallRegistry } from './call-gateway/call-registry.service';
import { ModelReachability } from './health/model-reachability.service';

class StatusDto {
  @ApiProperty({ example: 'voice-agent-backend' }) service: string;
  @ApiProperty({
    enum: ['ok', 'degraded', 'not configured'],
    example: 'ok',
    description: '`degraded`: calls are taken but something needs fixing (see `problems`); `not configured`: calls cannot be taken yet',
  })
  status: string;
  @ApiPropertyOptional({ example: 3, description: 'Production: only with the dashboard token' }) activeCalls?: number;
  @ApiPropertyOptional({ example: 100 }) capacity?: number;
  @ApiPropertyOptional({ example: 42 }) uptimeS?: number;
  @ApiPropertyOptional({ type: [String], example: [], description: 'Variables that must be set before calls can be taken' }) missingConfig?: string[];
  @ApiPropertyOptional({
    type: [String],
    example: ['the Realtime API refused the key (401): check OPENAI_API_KEY'],
    description: 'What is wrong, each with its fix: missing variables, the model problem, unsafe settings',
  })
  problems?: string[];
}

class PublicUrlDto {
  @ApiProperty({ example: 'https://example.ngrok.app', nullable: true, type: String, description: 'PUBLIC_URL; null while it is unset' })
  publicUrl: string | null;
  @ApiProperty({
    example: 'https://example.ngrok.app/twiml',
    nullable: true,
    type: String,
    description: "Paste this as the Twilio number's voice webhook (A call comes in, HTTP POST)",
  })
  webhookUrl: string | null;
  @ApiProperty({ example: 'wss://example.ngrok.app/ws/call', nullable: true, type: String, description: 'The media stream URL the TwiML names' })
  streamUrl: string | null;
}

@ApiTags('status')
@Controller()
export class AppController {
  constructor(
    private readonly config: AppConfig,
    private readonly registry: CallRegistry,
    private readonly model: ModelReachability,
    private readonly auth: DashboardAuth,
  ) {}

  @Get()
  @ApiOptionalDashboardToken()
  @ApiOperation({
    summary:
      'Service status, and what to fix: missing variables, a refused OpenAI key, unsafe settings. Production: status only, unless the dashboard token is sent',
  })
  @ApiOkResponse({ type: StatusDto })
  status(@Req() req: Request): StatusDto {
    const missing = this.config.missingForCalls;
    const model = this.model.report().problem;
    const problems = [
      ...(missing.length > 0 ? [`set ${missing.join(' and ')} to take calls`] : []),
      ...(model ? [model.message] : []),
      ...this.config.warnings,
    ];
    const status = missing.length > 0 ? 'not configured' : problems.length > 0 ? 'degraded' : 'ok';
    if (!this.auth.mayReadDetails(req)) return { service: 'voice-agent-backend', status };
    return {
      service: 'voice-agent-backend',
      status,
      activeCalls: this.registry.activeCount,
      capacity: this.registry.capacity,
      uptimeS: Math.round(process.uptime()),
      missingConfig: missing,
      problems,
    };
  }

  @Get('public-url')
  @UseGuards(DetailsGuard)
  @ApiDetailsAccess()
  @ApiOperation({ summary: 'The public URLs Twilio uses: the webhook to paste in the Twilio console, and the stream URL' })
  @ApiOkResponse({ type: PublicUrlDto })
  publicUrl(): PublicUrlDto {
    return {
      publicUrl: this.config.PUBLIC_URL ?? null,
      webhookUrl: this.config.publicUrl('/twiml') ?? null,
      streamUrl: this.config.streamUrl('/ws/call') ?? null,
    };
  }
}
