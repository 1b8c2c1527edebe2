import { describe, expect, it } from 'vitest';
import { loadAppConfig } from '../config/app-config';
import { ToolError, type AgentTool } from './agent-tool';
import { ToolRegistry } from './tool-registry.service';

const tool = (name: string, run: AgentTool['run']): AgentTool => ({
  name,
  description: name,
  parameters: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'], additionalProperties: false },
  run,
});

describe('ToolRegistry', () => {
  const config = loadAppConfig({ TOOL_TIMEOUT_MS: '100' });
  const context = { callSid: 'CA1', requestHangup: () => {} };
  const registry = new ToolRegistry(
    [
      tool('double', async ({ n }) => ({ result: (n as number) * 2 })),
      tool('boom', async () => {
        throw new Error('connect ECONNREFUSED 10.1.2.3:8443');
      }),
      tool('refuse', async () => {
        throw new ToolError('No such city.');
      }),
      tool('slow', (_args, { signal }) => new Promise((resolve) => signal.addEventListener('abort', () => resolve('late')))),
    ],
    config,
  );

  it('offers the schemas to the model', () => {
    expect(registry.schemas().map((s) => s.name)).toEqual(['double', 'boom', 'refuse', 'slow']);
    expect(registry.schemas()[0]).toMatchObject({ type: 'function', parameters: { required: ['n'] } });
  });

  it('returns the result encoded once as JSON', async () => {
    const r = await registry.execute('double', '{"n":21}', context);
    expect(r.error).toBeUndefined();
    expect(JSON.parse(r.output)).toEqual({ result: 42 });
  });

  it.each([
    ['unknown', '{}', /Unknown tool/],
    ['double', '{"n":', /not valid JSON/],
    ['double', '{"n":"x"}', /Invalid arguments.*number/],
    ['double', '{}', /Invalid arguments.*required/],
    ['boom', '{"n":1}', /^The boom tool failed; try again later or do without it\.$/],
    ['refuse', '{"n":1}', /^No such city\.$/],
    ['slow', '{"n":1}', /timed out after 100 ms/],
  ])('turns %s(%s) into a JSON error output', async (name, args, pattern) => {
    const r = await registry.execute(name, args, context);
    expect(r.error).toMatch(pattern);
    expect(JSON.parse(r.output).error).toMatch(pattern);
  });

  it('never tells the model what an unexpected error says (hosts, ports, paths): that is for the log', async () => {
    const r = await registry.execute('boom', '{"n":1}', context);
    expect(r.output).not.toMatch(/10\.1\.2\.3|8443|ECONNREFUSED/);
    expect(r.error).not.toMatch(/10\.1\.2\.3|8443|ECONNREFUSED/);
  });

  it('offers a tool only while it is available, and honours its own timeout', async () => {
    let available = false;
    const patient: AgentTool = {
      ...tool('patient', (_args, { signal }) => new Promise((resolve) => signal.addEventListener('abort', () => resolve('late')))),
      timeoutMs: 250,
      available: () => available,
    };
    const withPatient = new ToolRegistry([tool('double', async () => 0), patient], config);
    expect(withPatient.schemas().map((s) => s.name)).toEqual(['double']);
    available = true;
    expect(withPatient.schemas().map((s) => s.name)).toEqual(['double', 'patient']);
    expect(withPatient.registered().map((s) => s.name)).toEqual(['double', 'patient']);
    const r = await withPatient.execute('patient', '{"n":1}', context);
    expect(r.error).toMatch(/timed out after 250 ms/);
  });
});
