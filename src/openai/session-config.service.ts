import { Injectable } from '@nestjs/common';
import type {
  RealtimeAudioConfigInput,
  RealtimeAudioConfigOutput,
  RealtimeAudioInputTurnDetection,
  RealtimeFunctionTool,
  RealtimeSessionCreateRequest,
  SessionUpdateEvent,
} from 'openai/resources/realtime/realtime';
import { AppConfig } from '../config/app-config';

/** What an operator can change about the agent; applies to calls that start after the change. */
export interface AgentSettings {
  instructions: string;
  voice: string;
  turnDetection: RealtimeAudioInputTurnDetection;
  /** Names of the tools offered to the model; null = all registered tools. */
  enabledTools: string[] | null;
}

/** Holds the agent settings (defaults from the environment) and turns them into a GA `session.update`. */
@Injectable()
export class SessionConfigService {
  private settings: AgentSettings;

  constructor(private readonly config: AppConfig) {
    this.settings = {
      instructions: config.AGENT_INSTRUCTIONS,
      voice: config.OPENAI_VOICE,
      turnDetection:
        config.TURN_DETECTION === 'semantic_vad'
          ? { type: 'semantic_vad', eagerness: 'auto', create_response: true, interrupt_response: true }
          : {
              type: 'server_vad',
              threshold: config.VAD_THRESHOLD,
              prefix_padding_ms: config.VAD_PREFIX_PADDING_MS,
              silence_duration_ms: config.VAD_SILENCE_DURATION_MS,
              create_response: true,
              interrupt_response: true,
            },
      enabledTools: null,
    };
  }

  get current(): AgentSettings {
    return this.settings;
  }

  update(patch: Partial<AgentSettings>): AgentSettings {
    this.settings = { ...this.settings, ...patch };
    for (const listener of this.changeListeners) listener(this.settings);
    return this.settings;
  }

  // Persistence hook (src/records keeps the saved settings across restarts).
  private readonly changeListeners = new Set<(settings: AgentSettings) => void>();

  /** Called with the settings after each update (e.g. to save them); returns an unsubscribe function. */
  onChange(listener: (settings: AgentSettings) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Puts back settings saved before a restart, without announcing a change. */
  restore(settings: AgentSettings): void {
    this.settings = settings;
  }

  /** The `session.update` for a new call: mu-law in and out (Twilio's format, no transcoding), server-side VAD, transcription on. */
  sessionUpdate(tools: RealtimeFunctionTool[], settings: AgentSettings = this.settings): SessionUpdateEvent {
    const enabled = settings.enabledTools;
    return {
      type: 'session.update',
      session: {
        type: 'realtime',
        model: this.config.OPENAI_MODEL,
        output_modalities: ['audio'],
        instructions: settings.instructions,
        audio: {
          input: {
            format: { type: 'audio/pcmu' },
            turn_detection: settings.turnDetection,
            transcription: { model: this.config.TRANSCRIPTION_MODEL },
          },
          output: { format: { type: 'audio/pcmu' }, voice: settings.voice },
        },
        tools: offered(tools, enabled),
        tool_choice: 'auto',
      },
    };
  }

  /**
   * A `session.update` for a call already in progress that names only the changed fields: the
   * server keeps everything it is not told, so formats and transcription stay as they are.
   */
  liveUpdate(patch: Partial<AgentSettings>, tools: RealtimeFunctionTool[]): SessionUpdateEvent {
    const session: RealtimeSessionCreateRequest = { type: 'realtime' };
    if (patch.instructions !== undefined) session.instructions = patch.instructions;
    if (patch.enabledTools !== undefined) session.tools = offered(tools, patch.enabledTools);
    const input: RealtimeAudioConfigInput | undefined = patch.turnDetection !== undefined ? { turn_detection: patch.turnDetection } : undefined;
    const output: RealtimeAudioConfigOutput | undefined = patch.voice !== undefined ? { voice: patch.voice } : undefined;
    if (input || output) session.audio = { ...(input && { input }), ...(output && { output }) };
    return { type: 'session.update', session };
  }
}

function offered(tools: RealtimeFunctionTool[], enabled: string[] | null): RealtimeFunctionTool[] {
  return enabled ? tools.filter((t) => t.name && enabled.includes(t.name)) : tools;
}
