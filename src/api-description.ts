import { applyDecorators } from '@nestjs/common';
import {
  ApiExtraModels,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  ApiSecurity,
  DocumentBuilder,
  getSchemaPath,
  type OpenAPIObject,
} from '@nestjs/swagger';

// The OpenAPI document's frame (security schemes, tags, the words around it) and the pieces every
// controller uses to describe access and errors the same way. test/api-description.e2e-spec.ts
// checks the served document against what the server really does.

export const DASHBOARD_TOKEN_SCHEME = 'dashboardToken';
export const METRICS_TOKEN_SCHEME = 'metricsToken';
export const TWILIO_SIGNATURE_SCHEME = 'twilioSignature';

/** Every error answer, in Nest's shape (`error` is optional). */
export class ErrorResponseDto {
  @ApiProperty({ example: 400 }) statusCode: number;
  @ApiPropertyOptional({ example: 'Bad Request' }) error?: string;
  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: ['turnDetection.threshold must not be greater than 1'],
    description: 'What is wrong and what to do; a 400 lists every invalid field at once',
  })
  message: string | string[];
}

/** An error answer of `status`, described for this route. */
export function ApiError(status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 503, description: string) {
  return applyDecorators(
    ApiExtraModels(ErrorResponseDto),
    ApiResponse({ status, description, content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorResponseDto) } } } }),
  );
}

/** The operator's endpoints: the dashboard token, always. */
export function ApiDashboardToken() {
  return applyDecorators(
    ApiSecurity(DASHBOARD_TOKEN_SCHEME),
    ApiError(401, 'The dashboard token is missing or wrong (Authorization: Bearer <DASHBOARD_TOKEN, or the token printed at start>)'),
  );
}

/** Details endpoints: open in development (no credentials), the dashboard token in production. */
export function ApiDetailsAccess() {
  return applyDecorators(ApiSecurity({}), ApiSecurity(DASHBOARD_TOKEN_SCHEME), ApiError(401, 'Production only: the dashboard token is required'));
}

/** Public endpoints that say more to the holder of the dashboard token (production: status only without it). */
export function ApiOptionalDashboardToken() {
  return applyDecorators(ApiSecurity({}), ApiSecurity(DASHBOARD_TOKEN_SCHEME));
}

/** The OpenAPI document's frame: what the controllers' decorators do not say. */
export function apiDescription(): Omit<OpenAPIObject, 'paths'> {
  return new DocumentBuilder()
    .setTitle('Voice agent backend')
    .setDescription(
      [
        'Answers Twilio phone calls and bridges each one to an OpenAI voice model, live, in both directions.',
        '',
        '**WebSockets** are described in an AsyncAPI 3.0 document: [/docs/asyncapi.json](/docs/asyncapi.json) — ' +
          '`/ws/call` (Twilio Media Streams: audio both ways, marks, clear) and `/ws/logs` (the dashboard: call events out, operator commands in).',
        '',
        '**Access** (docs/security.md): Twilio webhooks need a valid `X-Twilio-Signature` (made with TWILIO_AUTH_TOKEN over PUBLIC_URL); ' +
          "the operator's endpoints need the **dashboard token**, a shared secret sent as `Authorization: Bearer <token>` (DASHBOARD_TOKEN, " +
          'or the random one the server printed to its terminal at start); `/metrics` takes METRICS_TOKEN or the dashboard token. ' +
          'Details endpoints (`/health`, `/tools`, `/public-url`, these docs) are open in development and need the dashboard token in production; ' +
          'a browser opening `/docs` there is asked for it as the password (any user name).',
        '',
        'Errors are JSON `{ statusCode, error, message }`, where `message` lists every invalid field at once for a 400.',
        'The operator page is at `/dashboard`.',
      ].join('\n'),
    )
    .setVersion('0.1.0')
    .setLicense('MIT', 'https://spdx.org/licenses/MIT.html')
    .addSecurity(DASHBOARD_TOKEN_SCHEME, {
      type: 'http',
      scheme: 'bearer',
      description: 'The dashboard token: a shared secret (not a JWT), DASHBOARD_TOKEN or the one the server printed to its terminal at start.',
    })
    .addSecurity(METRICS_TOKEN_SCHEME, {
      type: 'http',
      scheme: 'bearer',
      description: 'METRICS_TOKEN (while it is unset, /metrics takes the dashboard token instead).',
    })
    .addSecurity(TWILIO_SIGNATURE_SCHEME, {
      type: 'apiKey',
      in: 'header',
      name: 'X-Twilio-Signature',
      description:
        "Twilio's request signature: base64 HMAC-SHA1, keyed with the account's auth token (TWILIO_AUTH_TOKEN), over PUBLIC_URL + the path and the form parameters. " +
        'Required whenever the server can take calls (unless ALLOW_UNSIGNED_TWILIO_REQUESTS=true, outside production).',
    })
    .addTag('twilio', "Twilio's voice webhooks: answered with TwiML (text/xml)")
    .addTag('status', 'What the server is and what to fix')
    .addTag('health', 'Liveness, readiness and every check in detail')
    .addTag('dashboard', "The operator's agent configuration (the dashboard page is at /dashboard)")
    .addTag('call records', 'History, transcripts, usage and cost of past and live calls (docs/records.md)')
    .addTag('tools', 'The functions the model can call')
    .addTag('metrics', 'Prometheus metrics')
    .build();
}
