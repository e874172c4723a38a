// The command line as a new user meets it: help and version, every mistake in an output path
// refused in one line before any model is opened, outputs never overwriting an input and never
// left partial under their final name (full disk, SIGKILL, SIGTERM), `infer --model ID`, and no
// GPU driver warnings on a successful run.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pkg from '../../package.json';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { FakeHub, folderFiles } from '../hub/server.js';
import { cli, startCli, waitForStderr } from './run.js';

const TINY = 'weights/tiny-dinov2-with-registers';
const IMAGE = 'test/fixtures/preprocess/img2-224x224.png';
const GOLDEN = 'test/fixtures/golden/tiny-gelu';
const GOLDEN_INPUT = join(GOLDEN, 'square-native.safetensors');
const work = mkdtempSync(join(tmpdir(), 'dinov2-usage-'));
const emptyCache = join(work, 'empty-cache');
mkdirSync(emptyCache);
/** A model that cannot be opened: a hub id absent from an empty cache, offline. Opening it is an error naming the cache. */
const UNOPENED = ['--model', 'org/never-downloaded', '--offline', '--cache-dir', emptyCache];
const COMMANDS = ['embed', 'merge', 'classify', 'infer', 'preprocess', 'download'];

/** One line naming the mistake, then the usage line; exit 2; the model never opened. */
function expectRefused(r: { status: number | null; stderr: string }, message: RegExp): void {
  expect(r.stderr).toMatch(message);
  expect(r.status, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines.length, r.stderr).toBe(2);
  expect(lines[1]).toMatch(/^usage: dinov2-webgpu /);
  expect(r.stderr).not.toMatch(/never-downloaded|cache|offline/);
}

describe('help and version', () => {
  it('--version prints the version of package.json', async () => {
    const r = await cli(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.toString()).toBe(`${pkg.version}\n`);
  });

  it('--help says what each command does', async () => {
    const r = await cli(['--help']);
    expect(r.status).toBe(0);
    for (const name of COMMANDS)
      expect(r.stdout.toString()).toMatch(new RegExp(`^  ${name} +[A-Z].{20,}`, 'm'));
  });

  for (const name of COMMANDS) {
    it(`${name} -h / --help: what it does, its options with defaults, an example; exit 0`, async () => {
      for (const flag of ['--help', '-h']) {
        // Help wins over everything else on the line, missing files included.
        const r = await cli([name, 'absent.png', flag]);
        expect(r.status, r.stderr).toBe(0);
        const text = r.stdout.toString();
        expect(text).toMatch(new RegExp(`^dinov2-webgpu ${name}: [A-Z].{20,}\\.\\n`));
        expect(text).toMatch(/\nusage: dinov2-webgpu /);
        expect(text).toMatch(/\noptions:\n {2}--/);
        expect(text).toMatch(new RegExp(`\\nexample:\\n {2}dinov2-webgpu ${name} `));
        expect(r.stderr).toBe('');
      }
    });
  }

  it('the options that have defaults say them', async () => {
    const text = (await cli(['embed', '--help'])).stdout.toString();
    expect(text).toMatch(/--batch-size N +images per forward \(default: 8\)/);
    expect(text).toMatch(/--pooling cls\|mean\|cls\+patch-mean\n.*\(default: cls\)/);
  });
});

describe('output paths are checked before any model is opened', () => {
  const input = join(work, 'in.png');
  beforeAll(() => copyFileSync(IMAGE, input));

  it('a folder that does not exist', async () => {
    const out = join(work, 'missing', 'x.npy');
    expectRefused(
      await cli(['embed', IMAGE, ...UNOPENED, '--output', out]),
      /--output .*missing\/x\.npy: no such folder/,
    );
    expectRefused(
      await cli([
        'infer',
        ...UNOPENED,
        '--input',
        GOLDEN_INPUT,
        '--output',
        join(work, 'missing', 'o.safetensors'),
      ]),
      /no such folder/,
    );
    expectRefused(
      await cli(['preprocess', IMAGE, '--output', join(work, 'missing', 'p.safetensors')]),
      /no such folder/,
    );
  });

  it('a folder', async () => {
    expectRefused(await cli(['embed', IMAGE, ...UNOPENED, '--output', work]), /is a directory/);
    expectRefused(
      await cli(['infer', ...UNOPENED, '--input', GOLDEN_INPUT, '--output', work]),
      /is a directory/,
    );
    expect(readdirSync(join(work, '..')).some((f) => f.endsWith('.partial'))).toBe(false);
  });

  it('- (standard output) for a format that does not stream', async () => {
    expectRefused(
      await cli(['embed', IMAGE, ...UNOPENED, '--format', 'safetensors', '--output', '-']),
      /--output - \(standard output\) takes npy or json, not safetensors/,
    );
    expectRefused(
      await cli(['infer', ...UNOPENED, '--input', GOLDEN_INPUT, '--output', '-']),
      /standard output/,
    );
    expect(existsSync('-')).toBe(false);
  });

  it('--format contradicting the extension', async () => {
    expectRefused(
      await cli(['embed', IMAGE, ...UNOPENED, '--format', 'json', '--output', join(work, 'y.npy')]),
      /--format json contradicts the extension of .*y\.npy/,
    );
    expectRefused(
      await cli(['infer', ...UNOPENED, '--input', GOLDEN_INPUT, '--output', join(work, 'y.npy')]),
      /writes safetensors, not \.npy/,
    );
    expect(existsSync(join(work, 'y.npy'))).toBe(false);
  });

  it('an output that is one of the inputs (also through a link) is refused and the input is unchanged', async () => {
    const before = readFileSync(input);
    const link = join(work, 'link.npy');
    symlinkSync(input, link);
    expectRefused(
      await cli(['preprocess', input, '--output', input]),
      /is the input .*in\.png; refusing to overwrite it/,
    );
    expectRefused(await cli(['embed', IMAGE, input, ...UNOPENED, '--output', input]), /is the input/);
    expectRefused(await cli(['embed', input, ...UNOPENED, '--output', link]), /is the input/);
    const st = join(work, 'in.safetensors');
    copyFileSync(GOLDEN_INPUT, st);
    expectRefused(await cli(['infer', ...UNOPENED, '--input', st, '--output', st]), /is the input/);
    expect(readFileSync(input).equals(before)).toBe(true);
    expect(readFileSync(st).equals(readFileSync(GOLDEN_INPUT))).toBe(true);
  });

  it('a value that looks like an option is refused, not written to', async () => {
    const r = await cli(['preprocess', IMAGE, '--output', '--auto-orient']);
    expectRefused(r, /--output needs a value, got the option --auto-orient/);
    expect(existsSync('--auto-orient')).toBe(false);
    const r2 = await cli(['embed', IMAGE, '--model', '--offline', '--output', 'x.npy']);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/^dinov2-webgpu embed: --model needs a value, got the option --offline/);
  });
});

describe('error texts', () => {
  it('infer: a missing --input is "no such file", a file that is not safetensors says so', async () => {
    let r = await cli([
      'infer',
      ...UNOPENED,
      '--input',
      join(work, 'absent.safetensors'),
      '--output',
      join(work, 'o.safetensors'),
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/absent\.safetensors: no such file/);
    const text = join(work, 'text.safetensors');
    writeFileSync(text, 'this is not a safetensors file, just some text\n');
    r = await cli(['infer', ...UNOPENED, '--input', text, '--output', join(work, 'o.safetensors')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/text\.safetensors: not a safetensors file/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('preprocess names the file it cannot decode', async () => {
    const bad = join(work, 'broken.png');
    writeFileSync(bad, 'not a png');
    const r = await cli(['preprocess', bad, '--output', join(work, 'b.safetensors')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/broken\.png: /);
  });

  it('"1 image", not "1 images"', async () => {
    const r = await cli(['embed', IMAGE, '--model', TINY, '--output', join(work, 'one.npy')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^1 image, /m);
    expect(r.stderr).not.toMatch(/\b1 images\b/);
  });
});

describe('every file is written atomically', () => {
  // preprocess and infer write one file; embed writes its parts, the identifiers and the output.
  const runs = (dir: string): [string, string[], string][] => [
    ['preprocess', ['preprocess', IMAGE, '--output', join(dir, 'p.safetensors')], join(dir, 'p.safetensors')],
    [
      'infer',
      [
        'infer',
        '--model',
        GOLDEN,
        '--input',
        GOLDEN_INPUT,
        '--output-attentions',
        '--output',
        join(dir, 'i.safetensors'),
      ],
      join(dir, 'i.safetensors'),
    ],
    [
      'embed',
      ['embed', IMAGE, '--model', TINY, '--format', 'json', '--output', join(dir, 'e.json')],
      join(dir, 'e.json'),
    ],
  ];
  const leftovers = (dir: string) =>
    readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.tmp'));

  it('a full disk (ulimit -f): an error naming the output, no file under its name, no temporary file left', async () => {
    const dir = mkdtempSync(join(work, 'full-'));
    // SwiftShader maps files of its own (under 1 MiB here; a limit below that kills it with SIGBUS),
    // so the GPU command writes more than 1 MiB: attentions of 4 images of 168 x 168 (4.3 MB).
    const big = join(dir, 'big-input.safetensors');
    writeFileSync(
      big,
      writeSafetensors({
        pixel_values: {
          dtype: 'F32',
          shape: [4, 3, 168, 168],
          data: new Float32Array(4 * 3 * 168 * 168).fill(0.5),
        },
      }),
    );
    const cases: [string, string[], string, number][] = [
      [
        'preprocess',
        ['preprocess', IMAGE, '--output', join(dir, 'p.safetensors')],
        join(dir, 'p.safetensors'),
        64,
      ],
      [
        'infer',
        [
          'infer',
          '--model',
          GOLDEN,
          '--input',
          big,
          '--output-attentions',
          '--output',
          join(dir, 'i.safetensors'),
        ],
        join(dir, 'i.safetensors'),
        1024,
      ],
    ];
    for (const [name, args, out, kib] of cases) {
      const r = await cli(args, {}, `ulimit -f ${kib}`);
      expect(r.status, `${name}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/cannot write .*: file too large/);
      expect(r.stderr).not.toMatch(/\.tmp/);
      expect(existsSync(out), name).toBe(false);
      expect(leftovers(dir), name).toEqual([]);
    }
  });

  it('SIGKILL half-way through the write: nothing under the final name', async () => {
    for (let i = 0; i < 3; i++) {
      const dir = mkdtempSync(join(work, 'kill-'));
      const [name, args, out] = runs(dir)[i];
      // embed: the 1st file is its parts' manifest, the 2nd its one part, the 3rd the output.
      const run = startCli(args, { DINOV2_WEBGPU_FAULT_PAUSE_WRITE: name === 'embed' ? '3' : '1' });
      await waitForStderr(run, /paused half-way through writing/);
      run.child.kill('SIGKILL');
      expect((await run.done).signal).toBe('SIGKILL');
      expect(existsSync(out), name).toBe(false);
      expect(leftovers(dir).length, `${name}: the partial file is there, under its temporary name`).toBe(1);
    }
  });

  it('SIGTERM and SIGINT half-way through the write: nothing under the final name, the temporary file removed', async () => {
    const dir = mkdtempSync(join(work, 'term-'));
    for (const [signal, code] of [
      ['SIGTERM', 143],
      ['SIGINT', 130],
    ] as const) {
      const [, args, out] = runs(dir)[0];
      const run = startCli(args, { DINOV2_WEBGPU_FAULT_PAUSE_WRITE: '1' });
      await waitForStderr(run, /paused half-way through writing/);
      run.child.kill(signal);
      const r = await run.done;
      expect(r.status, r.stderr).toBe(code);
      expect(existsSync(out)).toBe(false);
      expect(leftovers(dir)).toEqual([]);
    }
  });
});

describe('infer --model ID', () => {
  const hub = new FakeHub();
  beforeAll(async () => {
    await hub.start();
    hub.addCommit('org/gelu', folderFiles(GOLDEN));
  });
  afterAll(() => hub.close());

  it('offline from a filled cache writes the bytes of infer --model DIR', async () => {
    const cache = join(work, 'infer-cache');
    const env = { HF_ENDPOINT: hub.origin, HF_HUB_CACHE: cache };
    let r = await cli(['download', 'org/gelu'], env);
    expect(r.status, r.stderr).toBe(0);
    const fromId = join(work, 'from-id.safetensors');
    const fromDir = join(work, 'from-dir.safetensors');
    const before = hub.log.length;
    r = await cli(
      ['infer', '--model', 'org/gelu', '--offline', '--input', GOLDEN_INPUT, '--output', fromId],
      env,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(hub.log.length).toBe(before);
    r = await cli(['infer', '--model', GOLDEN, '--input', GOLDEN_INPUT, '--output', fromDir]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(fromId).equals(readFileSync(fromDir))).toBe(true);
  });
});

describe('GPU driver warnings', () => {
  const noEnvDrivers = {
    VK_ICD_FILENAMES: undefined,
    VK_DRIVER_FILES: undefined,
    DINOV2_WEBGPU_DEBUG: undefined,
  };

  it('a successful run prints no driver warning (this machine: Mesa Vulkan drivers, no VK_ICD_FILENAMES)', async () => {
    const r = await cli(['embed', IMAGE, '--model', TINY, '--output', join(work, 'quiet.npy')], noEnvDrivers);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/Warning|Vulkan|PhysicalDevice|Loader Message/);
  });

  const lavapipe = existsSync('/usr/share/vulkan/icd.d/lvp_icd.x86_64.json') && !existsSync('/dev/dri');
  it.runIf(lavapipe)("--debug shows the drivers Dawn skips (here Mesa's lavapipe)", async () => {
    const r = await cli(
      ['embed', IMAGE, '--model', TINY, '--output', join(work, 'loud.npy'), '--debug'],
      noEnvDrivers,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/shaderUniform\*ArrayDynamicIndexing/);
  });

  it('with no usable adapter, the error says how to get one', async () => {
    const r = await cli(['embed', IMAGE, '--model', TINY, '--output', join(work, 'none.npy')], {
      VK_ICD_FILENAMES: join(work, 'no-such-driver.json'),
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/No WebGPU adapter: install a Vulkan driver .*VK_ICD_FILENAMES/);
    expect(existsSync(join(work, 'none.npy'))).toBe(false);
  });
});

describe('EXIF orientation', () => {
  it('is applied by default (as transformers does); --no-auto-orient keeps the stored orientation', async () => {
    const dir = mkdtempSync(join(work, 'exif-'));
    // A JPEG stored 300 x 500 with Orientation 6 (shown rotated 90 degrees clockwise), and its
    // decoded pixels saved losslessly as stored and as shown.
    const jpeg = join(dir, 'rotated.jpg');
    await sharp('test/fixtures/preprocess/img1-300x500.png')
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toFile(jpeg);
    const { data, info } = await sharp(jpeg, { autoOrient: false })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
    await sharp(data, raw).png().toFile(join(dir, 'stored.png'));
    await sharp(data, raw).rotate(90).png().toFile(join(dir, 'shown.png'));
    const run = async (image: string, ...extra: string[]) => {
      const out = join(dir, `${image.split('/').pop()}-${extra.length}.safetensors`);
      const r = await cli(['preprocess', image, '--output', out, ...extra]);
      expect(r.status, r.stderr).toBe(0);
      return readFileSync(out).subarray(readFileSync(out).readUInt32LE(0) + 8);
    };
    const byDefault = await run(jpeg);
    expect(byDefault.equals(await run(join(dir, 'shown.png')))).toBe(true);
    const kept = await run(jpeg, '--no-auto-orient');
    expect(kept.equals(await run(join(dir, 'stored.png')))).toBe(true);
    expect(kept.equals(byDefault)).toBe(false);
  });
});
