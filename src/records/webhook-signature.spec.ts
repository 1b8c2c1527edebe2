import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook } from './webhook-signature';

describe('webhook signature', () => {
  const secret = 'whsec-0123456789abcdef';
  const body = '{"type":"call.ended"}';

  it('is t=<unix>,v1=<hex HMAC-SHA256 of "t.body">', () => {
    const expected = createHmac('sha256', secret).update(`1767225600.${body}`).digest('hex');
    expect(signWebhook(secret, body, 1767225600)).toBe(`t=1767225600,v1=${expected}`);
  });

  it('verifies our own signature, and refuses another key, another body, an old timestamp or garbage', () => {
    const now = 1767225600;
    const header = signWebhook(secret, body, now);
    expect(verifyWebhook(secret, body, header, now + 10)).toBe(true);
    expect(verifyWebhook('another-secret-000000', body, header, now)).toBe(false);
    expect(verifyWebhook(secret, body + ' ', header, now)).toBe(false);
    expect(verifyWebhook(secret, body, header, now + 301)).toBe(false);
    expect(verifyWebhook(secret, body, undefined, now)).toBe(false);
    expect(verifyWebhook(secret, body, 't=abc,v1=zz', now)).toBe(false);
    expect(verifyWebhook(secret, body, `t=${now}`, now)).toBe(false);
  });
});
