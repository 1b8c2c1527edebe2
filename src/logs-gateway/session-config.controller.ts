import { BadRequestException, Body, Controller, Get, Put, UseGuards } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DashboardAuthGuard } from '../access/dashboard-auth.guard';
import { ApiDashboardToken, ApiError } from '../api-description';
import { JsonBodyGuard } from './json-body.guard';
import { OperatorCommandsService } from './operator-commands.service';
import { SessionConfigDto, SessionConfigUpdateDto } from './session-config.dto';

@ApiTags('dashboard')
@ApiDashboardToken()
@Controller('session-config')
@UseGuards(DashboardAuthGuard)
export class SessionConfigController {
  constructor(private readonly commands: OperatorCommandsService) {}

  @Get()
  @ApiOperation({ summary: 'The saved agent configuration that every new call starts with (defaults from the environment)' })
  @ApiOkResponse({ type: SessionConfigDto })
  get(): SessionConfigDto {
    return this.commands.view();
  }

  @Put()
  // After the token check: an anonymous client learns nothing, not even which body would be accepted.
  @UseGuards(JsonBodyGuard)
  @ApiOperation({ summary: 'Change the saved configuration for new calls; fields left out keep their values (live calls are not changed)' })
  @ApiBody({ type: SessionConfigUpdateDto })
  @ApiOkResponse({ type: SessionConfigDto, description: 'The configuration now saved' })
  @ApiError(
    400,
    'Every problem at once, one message per field (unknown fields and tools too), e.g. "turnDetection.threshold must not be greater than 1"; or malformed JSON',
  )
  @ApiError(413, 'The body is over 64 KB')
  @ApiError(415, 'The body is not JSON: send Content-Type: application/json')
  // The body is validated by the service (DTO and tool names together), so that every error comes in one answer.
  async put(@Body() body: Record<string, unknown>): Promise<SessionConfigDto> {
    const checked = await this.commands.validate(body);
    if (!checked.ok) throw new BadRequestException({ statusCode: 400, error: 'Bad Request', message: checked.errors });
    return this.commands.save(checked.patch);
  }
}
