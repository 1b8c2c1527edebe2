// `npm run docs:asyncapi`: regenerates docs/asyncapi.json from the message types (see
// scripts/asyncapi-document.ts). Run it after changing a message type; the tests fail until then.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../emulator/speech';
import { buildAsyncApiDocument } from './asyncapi-document';

const root = repoRoot(__dirname);
const target = join(root, 'docs', 'asyncapi.json');
writeFileSync(target, JSON.stringify(buildAsyncApiDocument(root), null, 2) + '\n');
console.log(`wrote ${target}`);
