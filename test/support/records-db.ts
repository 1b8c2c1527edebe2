import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { RecordsDatabase } from '../../src/records/records-database';

/**
 * The databases the storage tests run against: the embedded one always, PostgreSQL when
 * DATABASE_URL is set (as .ci/run does). Each PostgreSQL run gets its own schema (tables and
 * migration journal), so parallel runs never see each other's rows; it is dropped afterwards.
 */
export const TEST_DATABASES: ('pglite' | 'postgres')[] = process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export interface TestDatabase {
  database: RecordsDatabase;
  /** The URL the app should use to reach the same schema (postgres only). */
  url?: string;
  cleanup(): Promise<void>;
}

/** A fresh PostgreSQL schema and a URL whose connections use it. */
export async function createTestSchema(baseUrl = process.env.DATABASE_URL!): Promise<{ url: string; schema: string; drop(): Promise<void> }> {
  const schema = `records_test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    schema,
    drop: async () => {
      const client = new Client({ connectionString: baseUrl });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    },
  };
}

export async function openTestDatabase(kind: 'pglite' | 'postgres'): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const database = await RecordsDatabase.open({ dataDir: 'memory://', statementTimeoutMs: 5000 });
    return { database, cleanup: () => database.close() };
  }
  const created = await createTestSchema();
  const { url, schema } = created;
  const database = await RecordsDatabase.open({ url, dataDir: 'unused', statementTimeoutMs: 5000, migrationsSchema: schema });
  return {
    database,
    url,
    cleanup: async () => {
      await database.close();
      await created.drop();
    },
  };
}
