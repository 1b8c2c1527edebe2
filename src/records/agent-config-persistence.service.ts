import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { VOICE_ENGINES } from '../config/app-config';
import { SessionConfigService, type AgentSettings } from '../openai/session-config.service';
import { RecordsRepository } from './records.repository';
import { RecordsStore } from './records-store.service';

/**
 * Keeps the agent configuration saved from the dashboard across restarts: each save becomes a new
 * version in agent_configs, and the latest version is put back at start-up. Without a database the
 * configuration lives in memory, as before.
 */
@Injectable()
export class AgentConfigPersistence implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(AgentConfigPersistence.name);
  private unsubscribe: () => void = () => undefined;
  /** The saved version new calls start with; null = the environment's defaults. */
  version: number | null = null;
  /** Saves run one after another, so versions follow the order of the changes. */
  private saving: Promise<void> = Promise.resolve();
  private pending = 0;

  /**
   * The version of the settings in force now: a number at once, or a promise when a save is still
   * on its way to the database (the settings already apply; their version number comes with the save).
   */
  currentVersion(): number | null | Promise<number | null> {
    return this.pending === 0 ? this.version : this.saving.then(() => this.version);
  }

  constructor(
    private readonly store: RecordsStore,
    private readonly sessionConfig: SessionConfigService,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.store.enabled) return;
    this.unsubscribe = this.sessionConfig.onChange((settings) => this.save(settings));
    await this.store.started;
    let restored = false;
    // Also when the database comes up later than start-up, unless the operator has saved meanwhile.
    this.store.whenOpen(() => {
      if (restored || this.version !== null) return;
      restored = true;
      void this.restore();
    });
    await this.saving;
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  private restore(): Promise<void> {
    this.saving = this.saving.then(async () => {
      try {
        const saved = await RecordsRepository.latestAgentConfig(this.store.db);
        if (!saved || !isAgentSettings(saved.settings)) return;
        this.sessionConfig.restore(saved.settings);
        this.version = saved.version;
        this.logger.log(`agent configuration version ${saved.version} restored`);
      } catch (err) {
        this.logger.warn({ err }, 'could not read the saved agent configuration; using the environment defaults');
      }
    });
    return this.saving;
  }

  private save(settings: AgentSettings): void {
    this.pending++;
    this.saving = this.saving.then(async () => {
      try {
        this.version = await RecordsRepository.saveAgentConfig(this.store.db, settings);
      } catch (err) {
        this.version = null;
        this.logger.warn({ err }, 'could not save the agent configuration: it applies until the server restarts');
      } finally {
        this.pending--;
      }
    });
  }
}

/** What we saved is what we read back, but a row edited by hand must not break new calls. */
function isAgentSettings(value: unknown): value is Partial<AgentSettings> {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    // Versions saved before the engine was a setting have none: the environment's applies.
    (v.engine === undefined || VOICE_ENGINES.some((engine) => engine === v.engine)) &&
    typeof v.instructions === 'string' &&
    typeof v.voice === 'string' &&
    typeof v.turnDetection === 'object' &&
    v.turnDetection !== null &&
    (v.enabledTools === null || (Array.isArray(v.enabledTools) && v.enabledTools.every((t) => typeof t === 'string')))
  );
}
