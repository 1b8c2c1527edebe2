import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, MemoryHealthIndicator } from '@nestjs/terminus';
import { CallsHealthIndicator } from './calls.health';

const HEAP_LIMIT_BYTES = 1536 * 1024 * 1024;

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly memory: MemoryHealthIndicator,
    private readonly calls: CallsHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({ summary: 'Configured, below capacity, heap in bounds (503 otherwise), with active calls and capacity' })
  check() {
    return this.health.check([
      () => this.calls.configured(),
      () => this.calls.capacity(),
      () => this.memory.checkHeap('heap', HEAP_LIMIT_BYTES),
    ]);
  }
}
