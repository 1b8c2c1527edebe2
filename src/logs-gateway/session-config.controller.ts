import { Body, Controller, Get, Put, UseGuards, UsePipes, ValidationPipe } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiForbiddenResponse, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { DashboardAuthGuard } from './dashboard-auth.guard';
import { OperatorCommandsService } from './operator-commands.service';
import { SessionConfigDto, SessionConfigUpdateDto } from './session-config.dto';

@ApiTags('dashboard')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'DASHBOARD_TOKEN is set and the request does not carry it as a Bearer token' })
@ApiForbiddenResponse({ description: 'DASHBOARD_TOKEN is not set and the request is not a direct loopback one' })
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
  @UsePipes(new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true }))
  @ApiOperation({ summary: 'Change the saved configuration for new calls; fields left out keep their values (live calls are not changed)' })
  @ApiOkResponse({ type: SessionConfigDto, description: 'The configuration now saved' })
  @ApiBadRequestResponse({ description: 'Field errors, e.g. "turnDetection.threshold must not be greater than 1"' })
  put(@Body() dto: SessionConfigUpdateDto): SessionConfigDto {
    return this.commands.save(dto);
  }
}
