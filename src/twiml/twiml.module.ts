import { Module } from '@nestjs/common';
import { CallGatewayModule } from '../call-gateway/call-gateway.module';
import { TwilioSignatureGuard } from './twilio-signature.guard';
import { TwimlController } from './twiml.controller';
import { TwimlService } from './twiml.service';

@Module({
  imports: [CallGatewayModule],
  controllers: [TwimlController],
  providers: [TwimlService, TwilioSignatureGuard],
})
export class TwimlModule {}
