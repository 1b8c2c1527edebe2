import { Controller, Get, Req, ServiceUnavailableException, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, MemoryHealthIndicator, type HealthCheckResult } from '@nestjs/terminus';
import type { Request } from 'express';
import { DetailsGuard } from '../access/dashboard-auth.guard';
import { DashboardAuth } from '../access/dashboard-auth.service';
import { CallsHealthIndicator } from './calls.health';
import { ProcessHealthIndicator } from './process.health';
import { RecordsHealthIndicator } from './records.health';

const HEAP_LIMIT_BYTES = 1536 * 1024 * 1024;

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly memory: MemoryHealthIndicator,
    private readonly calls: CallsHealthIndicator,
    private readonly runtime: ProcessHealthIndicator,
    private readonly auth: DashboardAuth,
    private readonly records: RecordsHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  @UseGuards(DetailsGuard)
  @ApiBearerAuth()
  @ApiUnauthorizedResponse({ description: 'Production only: the dashboard token is required for details' })
  @ApiOperation({
    summary: 'Everything, with details: 503 unless configured, below capacity, not draining, event loop responsive and heap in bounds',
    description:
      'Also reports active calls, capacity, uptime, memory, event-loop delay, model reachability (degraded, still 200, when the model ' +
      'connections failed, with the problem and its fix, e.g. a refused OPENAI_API_KEY), warnings about unsafe settings (degraded), ' +
      'the call-records database and the post-call webhook (degraded, still 200, while writes or deliveries fail). ' +
      'In production it needs the dashboard token.',
  })
  check() {
    return this.health.check([
      () => this.calls.configured(),
      () => this.calls.capacity(),
      () => this.calls.notDraining(),
      () => this.runtime.eventLoop(),
      () => this.memory.checkHeap('heap', HEAP_LIMIT_BYTES),
      () => this.runtime.process(),
      () => this.calls.modelReachability(),
      () => this.calls.warnings(),
      () => this.records.database(),
      () => this.records.postCallWebhook(),
    ]);
  }

  @Get('live')
  @HealthCheck()
  @ApiOperation({
    summary: 'Liveness: 200 whenever the process can answer (restart it if this fails). Production: status only, unless the dashboard token is sent',
  })
  live(@Req() req: Request) {
    return this.forProbe(req, () => this.health.check([() => this.runtime.process()]));
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({
    summary:
      'Readiness: 200 when new calls can be taken here (configured, not draining, below capacity, event loop not stalled), else 503. Production: status only, unless the dashboard token is sent',
  })
  ready(@Req() req: Request) {
    return this.forProbe(req, () =>
      this.health.check([() => this.calls.configured(), () => this.calls.notDraining(), () => this.calls.capacity(), () => this.runtime.eventLoop()]),
    );
  }

  /**
   * Probes stay public (a load balancer has no token), but in production they say only ok or
   * error: pid, memory, load and call counts are for the operator.
   */
  private async forProbe(req: Request, run: () => Promise<HealthCheckResult>): Promise<HealthCheckResult | { status: string }> {
    if (this.auth.mayReadDetails(req)) return run();
    try {
      return { status: (await run()).status };
    } catch (err) {
      if (err instanceof ServiceUnavailableException) throw new ServiceUnavailableException({ status: 'error' });
      throw err;
    }
  }
}
