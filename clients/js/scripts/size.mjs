// The client's size as a browser gets it: minified by terser (module, compress, mangle) and then
// gzip -9 (zlib level 9). `node scripts/size.mjs` measures client.js; `--anchors` also measures the
// browser bundles of socket.io-client, @microsoft/signalr and centrifuge the same way, after
// fetching them with `npm pack` (the npm registry must be reachable) into target/anchors.
import { readFile, mkdir, readdir } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { minify } from 'terser';

const here = new URL('..', import.meta.url).pathname;

async function measure(file, module) {
  const source = await readFile(file, 'utf8');
  const min = (await minify(source, { module, compress: { passes: 2 }, mangle: true, ecma: 2020 })).code;
  const gz = gzipSync(Buffer.from(min), { level: 9 }).length;
  return { raw: Buffer.byteLength(source), min: Buffer.byteLength(min), gz };
}

const kb = (n) => (n / 1024).toFixed(1) + ' KB';
const row = (name, m) => console.log(name.padEnd(52), kb(m.raw).padStart(9), kb(m.min).padStart(9), kb(m.gz).padStart(9));

console.log('bundle'.padEnd(52), 'source'.padStart(9), 'min'.padStart(9), 'min+gz9'.padStart(9));
const own = await measure(here + 'client.js', true);
row('@switchboard/client client.js', own);

if (process.argv.includes('--anchors')) {
  const dir = here + 'target/anchors/';
  await mkdir(dir, { recursive: true });
  const anchors = [
    ['socket.io-client@4', 'dist/socket.io.min.js', false],
    ['socket.io-client@4', 'dist/socket.io.esm.min.js', true],
    ['@microsoft/signalr@8', 'dist/browser/signalr.min.js', false],
    ['centrifuge@5', 'dist/centrifuge.js', false],
  ];
  for (const [spec, path, module] of anchors) {
    const name = spec.replace(/@[^@/]*$/, '');
    const out = dir + name.replace('/', '+');
    await mkdir(out, { recursive: true });
    if (!(await readdir(out)).includes('package')) {
      const tgz = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', out], { encoding: 'utf8' }).trim().split('\n').pop();
      execFileSync('tar', ['xzf', out + '/' + tgz, '-C', out]);
    }
    const version = JSON.parse(await readFile(out + '/package/package.json', 'utf8')).version;
    row(name + '@' + version + ' ' + path, await measure(out + '/package/' + path, module));
  }
}

const limit = 6 * 1024;
if (own.gz > limit) {
  console.error('client.js is ' + own.gz + ' bytes minified + gzip -9, over the ' + limit + ' byte budget');
  process.exit(1);
}
