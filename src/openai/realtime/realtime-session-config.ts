import type { RealtimeAudioConfigInput, RealtimeAudioConfigOutput, RealtimeSessionCreateRequest, SessionUpdateEvent } from 'openai/resources/realtime/realtime';
import type { AppConfig } from '../../config/app-config';
import type { AgentSettings } from '../session-config.service';
import type { ToolSchema } from '../voice-engine';

/**
 * The `session.update` for a new session: mu-law in and out (Twilio's format, no transcoding),
 * the call's turn detection, transcription on, and the call's tools.
 */
export function realtimeSessionUpdate(config: AppConfig, settings: AgentSettings, tools: ToolSchema[]): SessionUpdateEvent {
  const session: RealtimeSessionCreateRequest = {
    type: 'realtime',
    model: config.OPENAI_MODEL,
    output_modalities: ['audio'],
    instructions: settings.instructions,
    audio: {
      input: {
        format: { type: 'audio/pcmu' },
        turn_detection: settings.turnDetection,
        transcription: { model: config.TRANSCRIPTION_MODEL },
      },
      output: { format: { type: 'audio/pcmu' }, voice: settings.voice },
    },
    tools: tools,
    tool_choice: 'auto',
  };
  // Unset = the service's default: only what the operator chose is sent.
  if (config.OPENAI_REASONING_EFFORT) session.reasoning = { effort: config.OPENAI_REASONING_EFFORT };
  if (config.OPENAI_PARALLEL_TOOL_CALLS !== undefined) session.parallel_tool_calls = config.OPENAI_PARALLEL_TOOL_CALLS;
  return { type: 'session.update', session };
}

/**
 * A `session.update` for a session already in progress that names only the changed fields: the
 * service keeps everything it is not told, so formats and transcription stay as they are.
 */
export function realtimeLiveUpdate(patch: Partial<AgentSettings>, tools: ToolSchema[] | undefined): SessionUpdateEvent {
  const session: RealtimeSessionCreateRequest = { type: 'realtime' };
  if (patch.instructions !== undefined) session.instructions = patch.instructions;
  if (tools !== undefined) session.tools = tools;
  const input: RealtimeAudioConfigInput | undefined = patch.turnDetection !== undefined ? { turn_detection: patch.turnDetection } : undefined;
  const output: RealtimeAudioConfigOutput | undefined = patch.voice !== undefined ? { voice: patch.voice } : undefined;
  if (input || output) session.audio = { ...(input && { input }), ...(output && { output }) };
  return { type: 'session.update', session };
}
