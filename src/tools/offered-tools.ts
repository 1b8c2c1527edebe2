import type { ToolSchema } from '../openai/voice-engine';
import type { ToolRegistry } from './tool-registry.service';

/**
 * The tools to offer a call: every tool available now (ask_operator only while someone watches
 * the dashboard), narrowed to the operator's selection. Decided once per call, so a reconnect
 * offers exactly the same tools whoever is watching by then.
 */
export function offeredTools(tools: ToolRegistry, enabled: readonly string[] | null): ToolSchema[] {
  const available = tools.schemas();
  return enabled ? available.filter((t) => t.name !== undefined && enabled.includes(t.name)) : available;
}
