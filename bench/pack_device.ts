// npx tsx bench/pack_device.ts   (or: bash bench/device.sh --pack)
// Builds bench/.device/, everything bench/device.sh needs on a machine with no internet and no Node:
//   bin/node.xz                        this machine's Node (x86-64 Linux), xz-compressed
//   lib/libvulkan.so.1                 the Vulkan loader (used there only when the system has none)
//   node_modules/webgpu/               Dawn's Node binding: index.js, package.json, dist/linux-x64/dawn.node.xz
//   dist/*.js                          the library bundle (vite build of src/)
//   bench.mjs, device_table.mjs        bench/node.ts and bench/device_table.ts bundled (src/io, scripts/ inlined)
//   configs/{small,base,large,giant}.json  config.json of each official size, read by bench/torch_bench.py
//   MANIFEST.json                      versions, sizes and sha256 of the above
// The device tool carries it with `carry: ["bench/.device"]` (bench/.gitignore keeps it out of git);
// about 30 MB of the 64 MiB a call may carry. Compressed files are rebuilt only when their source changes.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { arch, platform } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { makeConfig } from '../scripts/make_random_checkpoint.js';
import { ensureBuilt, REPO_ROOT } from '../tools/chromium.js';
import { OFFICIAL_SIZES, type OfficialSize, randomOptions } from './weights.js';

export const PACK_DIR = join(REPO_ROOT, 'bench/.device');
const VULKAN_LOADERS = [
  '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
  '/usr/lib64/libvulkan.so.1',
  '/usr/lib/libvulkan.so.1',
];

const log = (line: string) => process.stderr.write(`[pack] ${line}\n`);

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** `xz -9` of src into dst (with a .sha256 of the source beside it), skipped when the source is unchanged. */
function compress(src: string, dst: string): void {
  const stamp = `${dst}.source-sha256`;
  const digest = sha256(src);
  if (existsSync(dst) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === digest) return;
  log(`xz -9 ${src} (${(statSync(src).size / 2 ** 20).toFixed(1)} MiB; a minute or two)`);
  mkdirSync(dirname(dst), { recursive: true });
  const run = spawnSync('sh', ['-c', 'xz -9 -T0 -c "$0" > "$1"', src, dst], { stdio: 'inherit' });
  if (run.status !== 0) throw new Error(`xz failed on ${src} (exit ${run.status}); install xz-utils`);
  writeFileSync(stamp, `${digest}\n`);
}

async function bundle(): Promise<void> {
  const { build } = await import('vite');
  await build({
    configFile: false,
    root: REPO_ROOT,
    logLevel: 'warn',
    build: {
      ssr: true,
      target: 'node20',
      outDir: PACK_DIR,
      emptyOutDir: false,
      minify: false,
      sourcemap: false,
      rolldownOptions: {
        input: {
          bench: join(REPO_ROOT, 'bench/node.ts'),
          device_table: join(REPO_ROOT, 'bench/device_table.ts'),
        },
        output: {
          format: 'es',
          entryFileNames: '[name].mjs',
          chunkFileNames: 'chunks/[name]-[hash].mjs',
          // A chunk of its own: inlined into bench.mjs, its `import.meta.url === argv[1]` check would
          // take the bench for the checkpoint script's command line.
          codeSplitting: {
            groups: [{ name: 'make_random_checkpoint', test: /scripts[\\/]make_random_checkpoint\.ts$/ }],
          },
        },
        external: [/^node:/, 'webgpu', 'puppeteer-core'],
      },
    },
  });
}

export async function packDevice(): Promise<void> {
  if (platform() !== 'linux' || arch() !== 'x64')
    throw new Error(
      `the device machine is x86-64 Linux; this is ${platform()}-${arch()}, whose Node and Dawn would not run there`,
    );
  const build = ensureBuilt();
  if (build.built) log(`built dist/ (${(build.ms / 1000).toFixed(1)} s)`);
  mkdirSync(PACK_DIR, { recursive: true });
  for (const old of ['dist', 'chunks', 'configs'])
    rmSync(join(PACK_DIR, old), { recursive: true, force: true });

  // Node and Dawn, compressed.
  compress(realpathSync(process.execPath), join(PACK_DIR, 'bin/node.xz'));
  const webgpu = join(REPO_ROOT, 'node_modules/webgpu');
  const webgpuOut = join(PACK_DIR, 'node_modules/webgpu');
  mkdirSync(join(webgpuOut, 'dist/linux-x64'), { recursive: true });
  for (const f of ['index.js', 'package.json', 'LICENSE.md'])
    copyFileSync(join(webgpu, f), join(webgpuOut, f));
  compress(join(webgpu, 'dist/linux-x64/dawn.node'), join(webgpuOut, 'dist/linux-x64/dawn.node.xz'));

  // The Vulkan loader: device.sh puts it on LD_LIBRARY_PATH only when the system has none.
  const loader = VULKAN_LOADERS.find((p) => existsSync(p));
  if (!loader)
    throw new Error(`no Vulkan loader here (${VULKAN_LOADERS.join(', ')}): apt-get install libvulkan1`);
  mkdirSync(join(PACK_DIR, 'lib'), { recursive: true });
  copyFileSync(realpathSync(loader), join(PACK_DIR, 'lib/libvulkan.so.1'));

  // The library bundle and the bench, bundled.
  mkdirSync(join(PACK_DIR, 'dist'));
  for (const f of readdirSync(join(REPO_ROOT, 'dist')).filter((n) => n.endsWith('.js')))
    copyFileSync(join(REPO_ROOT, 'dist', f), join(PACK_DIR, 'dist', f));
  await bundle();

  // One config.json per official size: the shapes both engines are built from.
  mkdirSync(join(PACK_DIR, 'configs'));
  for (const size of Object.keys(OFFICIAL_SIZES) as OfficialSize[]) {
    writeFileSync(
      join(PACK_DIR, 'configs', `${size}.json`),
      `${JSON.stringify(makeConfig(randomOptions(size)), null, 2)}\n`,
    );
  }

  const files = listFiles(PACK_DIR).filter(
    (f) => !f.endsWith('.source-sha256') && !f.endsWith('MANIFEST.json'),
  );
  const manifest = {
    made: new Date().toISOString(),
    node: process.versions.node,
    webgpu: (JSON.parse(readFileSync(join(webgpu, 'package.json'), 'utf8')) as { version: string }).version,
    vulkanLoader: realpathSync(loader),
    files: Object.fromEntries(
      files.map((f) => [relative(PACK_DIR, f), { bytes: statSync(f).size, sha256: sha256(f) }]),
    ),
  };
  writeFileSync(join(PACK_DIR, 'MANIFEST.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const total = files.reduce((a, f) => a + statSync(f).size, 0);
  log(
    `${PACK_DIR}: ${files.length} files, ${(total / 2 ** 20).toFixed(1)} MiB (the device tool carries at most 64 MiB with the working tree)`,
  );
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(new URL(import.meta.url).pathname)) {
  packDevice().catch((e: Error) => {
    console.error(`pack_device: ${e.message}`);
    process.exit(1);
  });
}
