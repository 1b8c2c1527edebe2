import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { ToolRegistry } from './tool-registry.service';

class ToolSchemaDto {
  @ApiProperty({ example: 'function' }) type: 'function';
  @ApiProperty({ example: 'get_weather_from_coords' }) name: string;
  @ApiProperty() description: string;
  @ApiProperty({ description: 'JSON schema of the arguments', type: 'object', additionalProperties: true }) parameters: unknown;
}

@ApiTags('tools')
@Controller('tools')
export class ToolsController {
  constructor(private readonly registry: ToolRegistry) {}

  @Get()
  @ApiOperation({
    summary: 'Every registered function schema (session.update offers those enabled and available, e.g. ask_operator only while a dashboard is open)',
  })
  @ApiOkResponse({ type: [ToolSchemaDto] })
  list() {
    return this.registry.registered();
  }
}
