import { BadRequestException, Injectable, ValidationPipe } from '@nestjs/common';
import type { RealtimeAudioInputTurnDetection } from 'openai/resources/realtime/realtime';
import { CallRegistry } from '../call-gateway/call-registry.service';
import { AppConfig, REALTIME_VOICES, VOICE_ENGINES } from '../config/app-config';
import { SessionConfigService, type AgentSettings } from '../openai/session-config.service';
import { ToolRegistry } from '../tools/tool-registry.service';
import type { DashboardCommand } from './dashboard-commands';
import type { CommandResult } from './dashboard-messages';
import { SessionConfigDto, SessionConfigUpdateDto, TurnDetectionDto } from './session-config.dto';

export type CommandOutcome = { ok: true; result: CommandResult } | { ok: false; message: string; errors?: string[] };

/**
 * What an operator can do, for the socket and the HTTP API alike: read and change the agent
 * configuration, and steer one live call. Nothing from a client reaches OpenAI as sent: settings
 * are validated and rebuilt into our own session.update, answers into a function_call_output.
 */
@Injectable()
export class OperatorCommandsService {
  // Same rules as PUT /session-config, including rejecting unknown fields.
  private readonly validation = new ValidationPipe({ transform: true, whitelist: true, forbidNonWhitelisted: true });

  constructor(
    private readonly config: AppConfig,
    private readonly sessionConfig: SessionConfigService,
    private readonly tools: ToolRegistry,
    private readonly registry: CallRegistry,
  ) {}

  view(): SessionConfigDto {
    const settings = this.sessionConfig.current;
    const availableTools = this.tools.registered().map((t) => t.name ?? '');
    return {
      engine: settings.engine,
      instructions: settings.instructions,
      voice: settings.voice,
      turnDetection: turnDetectionView(settings.turnDetection),
      enabledTools: settings.enabledTools ?? availableTools,
      availableTools,
      availableVoices: [...REALTIME_VOICES],
      availableEngines: [...VOICE_ENGINES],
    };
  }

  /**
   * Checks a configuration change against the DTO and the registered tools, and reports every
   * problem at once (a field error and an unknown tool in the same answer, not one per attempt).
   */
  async validate(raw: unknown): Promise<{ ok: true; patch: Partial<AgentSettings> } | { ok: false; errors: string[] }> {
    const errors = this.unknownTools(raw);
    let dto: SessionConfigUpdateDto | undefined;
    try {
      dto = (await this.validation.transform(raw, { type: 'body', metatype: SessionConfigUpdateDto })) as SessionConfigUpdateDto;
    } catch (err) {
      if (!(err instanceof BadRequestException)) throw err;
      errors.unshift(...validationMessages(err));
    }
    if (errors.length > 0 || !dto) return { ok: false, errors };
    return { ok: true, patch: this.toSettings(dto) };
  }

  /** Saves a validated change for new calls. */
  save(patch: Partial<AgentSettings>): SessionConfigDto {
    this.sessionConfig.update(patch);
    return this.view();
  }

  async run(command: DashboardCommand): Promise<CommandOutcome> {
    switch (command.type) {
      case 'subscribe':
        return { ok: true, result: { command: 'subscribe' } };
      case 'config.update':
        return this.updateConfig(command.config, command.callSid);
      case 'function_call.answer': {
        const session = this.registry.get(command.callSid);
        if (!session) return { ok: false, message: `no live call ${command.callSid}` };
        if (!session.answerFunctionCall(command.callId, asJsonOutput(command.output))) {
          return { ok: false, message: `no running function call ${command.callId} in call ${command.callSid}` };
        }
        return { ok: true, result: { command: 'function_call.answer', callId: command.callId } };
      }
      case 'call.hangup': {
        const session = this.registry.get(command.callSid);
        if (!session) return { ok: false, message: `no live call ${command.callSid}` };
        session.end('operator');
        return { ok: true, result: { command: 'call.hangup' } };
      }
    }
  }

  private async updateConfig(raw: Record<string, unknown>, callSid: string | null): Promise<CommandOutcome> {
    const checked = await this.validate(raw);
    if (!checked.ok) return { ok: false, message: `invalid config: ${checked.errors.join('; ')}`, errors: checked.errors };
    const patch = checked.patch;
    if (callSid === null) {
      this.sessionConfig.update(patch);
      return { ok: true, result: { command: 'config.update', config: this.view() } };
    }
    const session = this.registry.get(callSid);
    if (!session) return { ok: false, message: `no live call ${callSid}` };
    const refused = session.reconfigure(patch);
    if (refused) return { ok: false, message: refused };
    return { ok: true, result: { command: 'config.update', applied: Object.keys(patch) } };
  }

  /** Our DTO to the agent settings; turn-detection values left out keep the saved ones. */
  private toSettings(dto: SessionConfigUpdateDto): Partial<AgentSettings> {
    const patch: Partial<AgentSettings> = {};
    if (dto.engine !== undefined) patch.engine = dto.engine;
    if (dto.instructions !== undefined) patch.instructions = dto.instructions;
    if (dto.voice !== undefined) patch.voice = dto.voice;
    if (dto.turnDetection !== undefined) patch.turnDetection = this.turnDetection(dto.turnDetection);
    if (dto.enabledTools !== undefined) patch.enabledTools = [...new Set(dto.enabledTools)];
    return patch;
  }

  /** Tool names that are strings but name no registered tool (the DTO checks the shape). */
  private unknownTools(raw: unknown): string[] {
    const names = (raw as { enabledTools?: unknown } | null)?.enabledTools;
    if (!Array.isArray(names)) return [];
    const known = new Set(this.tools.registered().map((t) => t.name));
    return names.filter((name): name is string => typeof name === 'string' && !known.has(name)).map((name) => `enabledTools: unknown tool "${name}"`);
  }

  private turnDetection(dto: TurnDetectionDto): RealtimeAudioInputTurnDetection {
    const saved = this.sessionConfig.current.turnDetection;
    if (dto.type === 'semantic_vad') {
      const eagerness = dto.eagerness ?? (saved.type === 'semantic_vad' ? saved.eagerness : undefined) ?? 'auto';
      return { type: 'semantic_vad', eagerness, create_response: true, interrupt_response: true };
    }
    const base = saved.type === 'server_vad' ? saved : undefined;
    return {
      type: 'server_vad',
      threshold: dto.threshold ?? base?.threshold ?? this.config.VAD_THRESHOLD,
      prefix_padding_ms: dto.prefixPaddingMs ?? base?.prefix_padding_ms ?? this.config.VAD_PREFIX_PADDING_MS,
      silence_duration_ms: dto.silenceDurationMs ?? base?.silence_duration_ms ?? this.config.VAD_SILENCE_DURATION_MS,
      create_response: true,
      interrupt_response: true,
    };
  }
}

function turnDetectionView(td: RealtimeAudioInputTurnDetection): TurnDetectionDto {
  if (td.type === 'semantic_vad') return { type: 'semantic_vad', eagerness: td.eagerness ?? 'auto' };
  return { type: 'server_vad', threshold: td.threshold, prefixPaddingMs: td.prefix_padding_ms, silenceDurationMs: td.silence_duration_ms };
}

/** The model expects JSON from a function: an answer that is not JSON becomes `{"answer": "..."}`. */
function asJsonOutput(text: string): string {
  try {
    JSON.parse(text);
    return text;
  } catch {
    return JSON.stringify({ answer: text });
  }
}

function validationMessages(err: BadRequestException): string[] {
  const message = (err.getResponse() as { message?: unknown }).message;
  if (Array.isArray(message)) return message.map(String);
  return [typeof message === 'string' ? message : err.message];
}
