import { Module } from '@nestjs/common';
import { OpenAIModule } from '../openai/openai.module';
import { ToolsModule } from '../tools/tools.module';
import { CallEventBus } from './call-events';
import { CallGateway, LegacyCallGateway } from './call.gateway';
import { CallRegistry } from './call-registry.service';
import { CallFactory } from './call.factory';
import { TwilioSignatureService } from './twilio-signature.service';

@Module({
  imports: [OpenAIModule, ToolsModule],
  providers: [CallGateway, LegacyCallGateway, CallFactory, CallRegistry, CallEventBus, TwilioSignatureService],
  exports: [CallRegistry, CallEventBus, TwilioSignatureService],
})
export class CallGatewayModule {}
