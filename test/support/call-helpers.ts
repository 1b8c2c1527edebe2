import type { FakeRealtimeConnection, FakeRealtimeServer } from '../../emulator/fake-realtime-server';
import { callSid, postTwiml, type TestApp } from './test-app';
import { TwilioCallSimulator } from '../../emulator/twilio-call-simulator';

export interface PlacedCall {
  call: TwilioCallSimulator;
  model: FakeRealtimeConnection;
  sid: string;
}

/**
 * Places a call the way Twilio does: the voice webhook (which pre-dials the model), then the
 * media stream with the TwiML's parameters. `index` is the fake's connection number for this call.
 */
export async function placeCall(app: TestApp, fake: FakeRealtimeServer, index = 0, sid = callSid()): Promise<PlacedCall> {
  const params = { callSid: sid, from: '+15551230000', to: '+15559870000', direction: 'inbound' };
  await postTwiml(app, { CallSid: sid, From: params.from, To: params.to, Direction: params.direction });
  const model = await fake.waitForConnection(index);
  await model.waitFor('session.update');
  const call = await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, { callSid: sid, customParameters: params });
  return { call, model, sid };
}
