import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Builds the server (dist/) and the tools (dist-tools/) once, before any test file runs, so the
 * tests that start them as child processes never race a build running in another worker.
 */
export default function buildOnce(): void {
  const root = join(__dirname, '..');
  const tsc = require.resolve('typescript/bin/tsc');
  for (const project of ['tsconfig.build.json', 'tsconfig.tools.json']) {
    execFileSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
  }
}
