// The package as shipped: within its size budget (scripts/size.mjs: terser, then gzip -9), and
// versioned in step with the Maven build that packages it.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

it('client.js is at most 6 KB minified + gzip -9', () => {
  const out = execFileSync(process.execPath, [new URL('../scripts/size.mjs', import.meta.url).pathname], { encoding: 'utf8' });
  const kb = +/client\.js\s+\S+ KB\s+\S+ KB\s+(\S+) KB/.exec(out)[1];
  assert.ok(kb > 1 && kb <= 6, out);
});

it('package.json has the Maven version', async () => {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
  const pom = await readFile(new URL('../pom.xml', import.meta.url), 'utf8');
  const maven = /<parent>[\s\S]*?<version>([^<]+)<\/version>/.exec(pom)[1];
  assert.equal(pkg.version, maven);
  assert.equal(pkg.name, '@switchboard/client');
  assert.deepEqual(pkg.dependencies, undefined, 'no runtime dependencies');
});
