import { Module } from '@nestjs/common';
import { CallGatewayModule } from '../call-gateway/call-gateway.module';
import { TwilioSignatureGuard } from './twilio-signature.guard';
import { TwimlController } from './twiml.controller';
import { TwilioWebhookGate } from './twilio-webhook.gate';
import { TwimlService } from './twiml.service';

@Module({
  imports: [CallGatewayModule],
  controllers: [TwimlController],
  providers: [TwimlService, TwilioSignatureGuard, TwilioWebhookGate],
})
export class TwimlModule {}
