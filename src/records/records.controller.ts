import {
  BadRequestException,
  Controller,
  Delete,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Query,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { DashboardAuthGuard } from '../access/dashboard-auth.guard';
import { RecordsRepository, type CallRecord, type CallStats } from './records.repository';
import { CallEventsDto, CallListDto, CallRecordDto, CallSidParamDto, CallStatsDto, ListCallsQueryDto, StatsQueryDto } from './records.dto';
import { RecordsStore, StoreUnavailableError } from './records-store.service';
import type { RecordsDb } from './records-database';

const DEFAULT_STATS_DAYS = 30;

@ApiTags('call records')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ description: 'The request does not carry the dashboard token as a Bearer token' })
@ApiServiceUnavailableResponse({ description: 'Records are disabled (RECORDS=off) or the database cannot be reached' })
@Controller()
@UseGuards(DashboardAuthGuard)
export class RecordsController {
  constructor(private readonly store: RecordsStore) {}

  @Get('calls')
  @ApiOperation({ summary: 'Past and live calls, newest first, one page at a time (filters combine)' })
  @ApiOkResponse({ type: CallListDto })
  @ApiBadRequestResponse({ description: 'A filter is malformed, e.g. "from must be an ISO 8601 date"' })
  async list(@Query() query: ListCallsQueryDto): Promise<CallListDto> {
    const limit = query.limit ?? 50;
    const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
    const calls = await this.read((db) =>
      RecordsRepository.listCalls(db, {
        from: query.from,
        to: query.to,
        direction: query.direction,
        number: query.number,
        endReason: query.endReason,
        engine: query.engine,
        minDurationS: query.minDurationS,
        q: query.q?.trim() || undefined,
        cursor,
        limit,
      }),
    );
    const last = calls.at(-1);
    return { calls, nextCursor: calls.length === limit && last ? encodeCursor(last.startedAt, last.callSid) : null };
  }

  @Get('calls/:sid')
  @ApiOperation({ summary: "One call's record: details, usage and cost, transcript (offsets, interruptions), tool calls and timeline" })
  @ApiOkResponse({ type: CallRecordDto })
  @ApiNotFoundResponse({ description: 'No record of that call' })
  async get(@Param() { sid }: CallSidParamDto): Promise<CallRecord> {
    const record = await this.read((db) => RecordsRepository.getCall(db, sid));
    if (!record) throw new NotFoundException(`no record of call ${sid}`);
    return record;
  }

  @Get('calls/:sid/events')
  @ApiOperation({ summary: "The call's raw event stream, in order (every call event but transcript deltas)" })
  @ApiOkResponse({ type: CallEventsDto })
  @ApiNotFoundResponse({ description: 'No record of that call' })
  async events(@Param() { sid }: CallSidParamDto): Promise<CallEventsDto> {
    const { exists, events } = await this.read(async (db) => ({
      exists: await RecordsRepository.exists(db, sid),
      events: await RecordsRepository.events(db, sid),
    }));
    if (!exists) throw new NotFoundException(`no record of call ${sid}`);
    return { callSid: sid, events };
  }

  @Delete('calls/:sid')
  @HttpCode(204)
  @ApiOperation({ summary: 'Deletes a call and everything recorded under it (transcript, tool calls, events)' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiNotFoundResponse({ description: 'No record of that call' })
  async delete(@Param() { sid }: CallSidParamDto): Promise<void> {
    const deleted = await this.read((db) => RecordsRepository.deleteCalls(db, { callSid: sid }));
    if (deleted === 0) throw new NotFoundException(`no record of call ${sid}`);
  }

  @Get('stats')
  @ApiOperation({ summary: 'Totals over a time range (calls, minutes, cost, first-audio latency, barge-ins, failures by reason), and per UTC day' })
  @ApiOkResponse({ type: CallStatsDto })
  async stats(@Query() query: StatsQueryDto): Promise<CallStats> {
    const to = query.to ?? new Date();
    const from = query.from ?? new Date(to.getTime() - DEFAULT_STATS_DAYS * 86_400_000);
    if (from > to) throw new BadRequestException('from must not be after to');
    return this.read((db) => RecordsRepository.stats(db, from, to));
  }

  /** Database errors become 503 (logged by Nest's handler otherwise as 500 with a stack). */
  private async read<T>(query: (db: RecordsDb) => Promise<T>): Promise<T> {
    let db: RecordsDb;
    try {
      db = this.store.db;
    } catch (err) {
      throw new ServiceUnavailableException((err as StoreUnavailableError).message);
    }
    try {
      return await query(db);
    } catch (err) {
      throw new ServiceUnavailableException(`the records database failed: ${(err as Error).message}`);
    }
  }
}

/** An opaque position in the list: the last call's start time and sid (ties broken by sid). */
export function encodeCursor(startedAt: string, callSid: string): string {
  return Buffer.from(`${startedAt}|${callSid}`).toString('base64url');
}

function decodeCursor(cursor: string): { startedAt: Date; callSid: string } {
  const [at, callSid] = Buffer.from(cursor, 'base64url').toString().split('|');
  const startedAt = new Date(at);
  if (!callSid || Number.isNaN(startedAt.getTime())) throw new BadRequestException('cursor is not one this API returned');
  return { startedAt, callSid };
}
