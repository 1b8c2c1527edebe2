import { Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AppConfig, loadAppConfig } from './app-config';

/**
 * @nestjs/config only loads an optional `.env` file into process.env here; the typed, validated
 * AppConfig is what the rest of the app injects (tests override it with `overrideProvider(AppConfig)`).
 */
@Global()
@Module({
  imports: [ConfigModule.forRoot({ envFilePath: '.env', ignoreEnvFile: process.env.NODE_ENV === 'test' })],
  providers: [{ provide: AppConfig, useFactory: () => loadAppConfig(process.env) }],
  exports: [AppConfig],
})
export class AppConfigModule {}
