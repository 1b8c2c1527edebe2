import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, MemoryHealthIndicator } from '@nestjs/terminus';
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
    private readonly records: RecordsHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({
    summary: 'Everything, with details: 503 unless configured, below capacity, not draining, event loop responsive and heap in bounds',
    description:
      'Also reports active calls, capacity, uptime, memory, event-loop delay, model reachability (degraded, still 200, when the last model connections failed), ' +
      'the call-records database and the post-call webhook (degraded, still 200, while writes or deliveries fail).',
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
      () => this.records.database(),
      () => this.records.postCallWebhook(),
    ]);
  }

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness: 200 whenever the process can answer (restart it if this fails)' })
  live() {
    return this.health.check([() => this.runtime.process()]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: 200 when new calls can be taken here (configured, not draining, below capacity, event loop not stalled), else 503' })
  ready() {
    return this.health.check([() => this.calls.configured(), () => this.calls.notDraining(), () => this.calls.capacity(), () => this.runtime.eventLoop()]);
  }
}
