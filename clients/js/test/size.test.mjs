// The size budget: client.js minified (terser) + gzip -9 stays within 6 KB (scripts/size.mjs).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

it('client.js is at most 6 KB minified + gzip -9', () => {
  const out = execFileSync(process.execPath, [new URL('../scripts/size.mjs', import.meta.url).pathname], { encoding: 'utf8' });
  const kb = +/client\.js\s+\S+ KB\s+\S+ KB\s+(\S+) KB/.exec(out)[1];
  assert.ok(kb > 1 && kb <= 6, out);
});
