import type { FakeRealtimeConnection, FakeRealtimeServer } from '../../emulator/fake-realtime-server';
import { callSid, postTwiml, type TestApp, twimlParameters } from './test-app';
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
export async function placeCall(app: Pick<TestApp, 'httpUrl' | 'wsUrl'>, fake: FakeRealtimeServer, index = 0, sid = callSid()): Promise<PlacedCall> {
  const twiml = await postTwiml(app, { CallSid: sid, From: '+15551230000', To: '+15559870000', Direction: 'inbound' });
  const model = await fake.waitForConnection(index);
  await model.waitFor('session.update');
  const call = await TwilioCallSimulator.connect(`${app.wsUrl}/ws/call`, { callSid: sid, customParameters: twimlParameters(twiml.body) });
  return { call, model, sid };
}
