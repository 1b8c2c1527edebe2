import { Controller, Get, Res, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiError, DASHBOARD_TOKEN_SCHEME, METRICS_TOKEN_SCHEME } from '../api-description';
import type { Response } from 'express';
import { MetricsAccessGuard } from './metrics-access.guard';
import { MetricsService } from './metrics.service';

@ApiTags('metrics')
@Controller('metrics')
@UseGuards(MetricsAccessGuard)
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format); the series are listed in docs/observability.md' })
  // Either token: METRICS_TOKEN, or the dashboard token while METRICS_TOKEN is unset.
  @ApiSecurity(METRICS_TOKEN_SCHEME)
  @ApiSecurity(DASHBOARD_TOKEN_SCHEME)
  @ApiOkResponse({
    description: 'voice_agent_* series plus process and Node.js runtime metrics',
    content: {
      'text/plain; version=0.0.4; charset=utf-8': {
        schema: { type: 'string' },
        example: '# HELP voice_agent_active_calls Calls streaming now\n# TYPE voice_agent_active_calls gauge\nvoice_agent_active_calls 3\n',
      },
    },
  })
  @ApiError(401, 'The Bearer token is missing or wrong: METRICS_TOKEN, or the dashboard token while METRICS_TOKEN is unset')
  async scrape(@Res() res: Response): Promise<void> {
    const body = await this.metrics.metrics();
    res.setHeader('Content-Type', this.metrics.contentType);
    res.send(body);
  }
}
