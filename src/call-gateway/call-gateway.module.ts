import { Module } from '@nestjs/common';
import { OpenAIModule } from '../openai/openai.module';
import { ToolsModule } from '../tools/tools.module';
import { CallEventBus } from './call-events';
import { CallGateway, LegacyCallGateway } from './call.gateway';
import { CallRegistry } from './call-registry.service';
import { CallSessionFactory } from './call-session.factory';
import { TwilioSignatureService } from './twilio-signature.service';

@Module({
  imports: [OpenAIModule, ToolsModule],
  providers: [CallGateway, LegacyCallGateway, CallSessionFactory, CallRegistry, CallEventBus, TwilioSignatureService],
  exports: [CallRegistry, CallEventBus, TwilioSignatureService],
})
export class CallGatewayModule {}
