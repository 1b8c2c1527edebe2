import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { DetailsGuard } from '../access/dashboard-auth.guard';
import { ToolRegistry } from './tool-registry.service';

class ToolSchemaDto {
  @ApiProperty({ example: 'function' }) type: 'function';
  @ApiProperty({ example: 'get_weather_from_coords' }) name: string;
  @ApiProperty() description: string;
  @ApiProperty({ description: 'JSON schema of the arguments', type: 'object', additionalProperties: true }) parameters: unknown;
}

@ApiTags('tools')
@Controller('tools')
@UseGuards(DetailsGuard)
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'Production only: the dashboard token is required' })
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
