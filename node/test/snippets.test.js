// The README's Node snippet (examples/snippets/retry.mjs) runs as written: with
// the package installed (here: linked as node_modules/@backstop/policy, as
// `npm install` of the packed tarball places it) and a local HTTP server that
// answers 503 and then 200, it retries once and prints the body.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = fileURLToPath(new URL('../', import.meta.url));

it('the README snippet retries a 503 and prints the body', async () => {
  let requests = 0;
  const server = createServer((req, res) => {
    requests += 1;
    if (requests === 1) {
      res.writeHead(503).end('try again');
    } else {
      res.writeHead(200).end('a,b\n1,2\n');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'backstop-snippet-'));
  try {
    mkdirSync(join(dir, 'node_modules', '@backstop'), { recursive: true });
    symlinkSync(pkg, join(dir, 'node_modules', '@backstop', 'policy'), 'dir');
    copyFileSync(join(root, 'examples', 'snippets', 'retry.mjs'), join(dir, 'retry.mjs'));
    const { port } = server.address();
    const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'retry.mjs')], {
      cwd: root,
      env: { ...process.env, DATA_URL: `http://127.0.0.1:${port}/part-0.csv` },
    });
    const lines = stdout.split('\n');
    assert.deepEqual(lines.slice(0, 2), ['a,b', '1,2'], stdout);
    assert.match(stdout, /transient/);
    assert.equal(requests, 2, 'one 503, then the retry');
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

it('npm pack ships the runtime files and none of the development tools', async () => {
  // The README installs the package from `npm pack`: it must work from the tarball alone.
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkg });
  const [{ files }] = JSON.parse(stdout);
  const paths = files.map((f) => f.path);
  for (const path of ['package.json', 'index.d.ts', 'src/index.js', 'gen/backstop.js', 'gen/backstop.core.wasm']) {
    assert.ok(paths.includes(path), `${path} is not in the package: ${paths.join(', ')}`);
  }
  assert.deepEqual(
    paths.filter((path) => /^(node_modules|test|bench|scripts)\//.test(path)),
    [],
  );
});
