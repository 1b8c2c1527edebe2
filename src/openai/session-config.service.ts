import { Injectable } from '@nestjs/common';
import type { RealtimeAudioInputTurnDetection } from 'openai/resources/realtime/realtime';
import type { VoiceEngineName } from '../call-gateway/call-events';
import { AppConfig } from '../config/app-config';

/**
 * What an operator can change about the agent; applies to calls that start after the change.
 * A running call can change some of it (see each engine's reconfigure), never its engine.
 */
export interface AgentSettings {
  /** The voice API the call runs on: fixed when the call is answered. */
  engine: VoiceEngineName;
  instructions: string;
  voice: string;
  /** Realtime only: GPT-Live has no turn-detection setting (its model is full duplex). */
  turnDetection: RealtimeAudioInputTurnDetection;
  /** Names of the tools offered to the model; null = all registered tools. */
  enabledTools: string[] | null;
}

/** Holds the agent settings for new calls (defaults from the environment); each engine turns them into its own configuration. */
@Injectable()
export class SessionConfigService {
  private settings: AgentSettings;

  constructor(config: AppConfig) {
    this.settings = {
      engine: config.VOICE_ENGINE,
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

  /**
   * Puts back settings saved before a restart, without announcing a change. Over the defaults: a
   * version saved before a field existed (e.g. `engine`) keeps the environment's value for it.
   */
  restore(settings: Partial<AgentSettings>): void {
    this.settings = { ...this.settings, ...settings };
  }
}
