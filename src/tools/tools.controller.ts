import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { DetailsGuard } from '../access/dashboard-auth.guard';
import { ApiDetailsAccess } from '../api-description';
import { ToolRegistry } from './tool-registry.service';

/** ToolParameters (agent-tool.ts): the JSON schema of a function's arguments, as sent to the model. */
class ToolParametersDto {
  @ApiProperty({ enum: ['object'], example: 'object' }) type: 'object';
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'object', description: 'JSON schema of one argument (the model reads it as is)' },
    example: { latitude: { type: 'number' }, longitude: { type: 'number' } },
    description: 'One JSON schema per argument',
  })
  properties: Record<string, unknown>;
  @ApiPropertyOptional({ type: [String], example: ['latitude', 'longitude'] }) required?: string[];
  @ApiPropertyOptional({ example: false }) additionalProperties?: boolean;
}

class ToolSchemaDto {
  @ApiProperty({ enum: ['function'], example: 'function' }) type: 'function';
  @ApiProperty({ example: 'get_weather_from_coords' }) name: string;
  @ApiProperty({ example: 'The current weather at a latitude and longitude.' }) description: string;
  @ApiProperty({ type: ToolParametersDto, description: 'JSON schema of the arguments (checked with Ajv before the tool runs)' }) parameters: ToolParametersDto;
}

@ApiTags('tools')
@Controller('tools')
@UseGuards(DetailsGuard)
@ApiDetailsAccess()
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
