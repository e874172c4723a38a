// Bulk embedding with the built CLI on the tiny model: folders and input lists with the identifier
// of each row, shards that merge into the bytes of one unsharded run, a SIGKILLed run resumed into
// the bytes of an uninterrupted one, bad images stopping the run (keeping what was done) or
// skipped with --skip-bad, standard output, and the stage profile.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, startCli, waitForStderr } from './run.js';

const TINY = 'weights/tiny-dinov2-with-registers';
const FIXTURES = 'test/fixtures/preprocess';
const work = mkdtempSync(join(tmpdir(), 'dinov2-bulk-'));
const photos = join(work, 'photos');
/** The images of `photos/`, in the order a folder is listed (code points of the paths). */
let images: string[] = [];

beforeAll(() => {
  // Six images in a folder tree, with a file that is not an image (left out).
  mkdirSync(join(photos, 'b'), { recursive: true });
  const names = ['a1.png', 'a2.png', 'b/c3.png', 'b/c4.png', 'd5.png', 'e6.png'];
  const sources = readdirSync(FIXTURES).filter((f) => f.endsWith('.png'));
  names.forEach((n, i) => copyFileSync(join(FIXTURES, sources[i % sources.length]), join(photos, n)));
  writeFileSync(join(photos, 'notes.txt'), 'not an image');
  images = names.map((n) => join(photos, n));
});

const embedArgs = (output: string, ...extra: string[]) => [
  'embed',
  photos,
  '--model',
  TINY,
  '--batch-size',
  '2',
  '--pooling',
  'cls+patch-mean',
  '--output',
  output,
  ...extra,
];

function ids(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').slice(0, -1);
}

describe('embed over a folder', () => {
  let whole: string;
  let stderr: string;
  beforeAll(async () => {
    whole = join(work, 'whole.npy');
    const r = await cli(embedArgs(whole, '--profile'));
    expect(r.status, r.stderr).toBe(0);
    stderr = r.stderr;
  });

  it('embeds every image of the folder tree, in order, and writes the identifier of each row', () => {
    expect(ids(join(work, 'whole.ids.txt'))).toEqual(images);
    const bytes = readFileSync(whole);
    expect(bytes.length).toBe(128 + 6 * 128 * 4);
    expect(existsSync(`${whole}.parts`)).toBe(false);
  });

  it('--profile prints images/s and the time per stage; progress shows images/s and the ETA', () => {
    expect(stderr).toMatch(
      /profile: 6 images in [\d.]+ s .*\([\d.]+ images\/s\).*decode [\d.]+ s, preprocess [\d.]+ s, upload [\d.]+ s, forward [\d.]+ s, write [\d.]+ s/,
    );
    expect(stderr).toMatch(/embedding: 6 \([\d.]+ images\/s, ETA \d+:\d\d\)/);
  });

  it('an input list names the same rows; --output - streams the same bytes', async () => {
    const list = join(work, 'list.txt');
    writeFileSync(list, `${images.join('\n')}\n\n`);
    const r = await cli([
      'embed',
      '--input-list',
      list,
      '--model',
      TINY,
      '--batch-size',
      '2',
      '--pooling',
      'cls+patch-mean',
      '--output',
      '-',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.equals(readFileSync(whole))).toBe(true);
  });

  it('three --shard K/3 processes side by side, merged, give the rows and bytes of one unsharded run', async () => {
    const parts = [0, 1, 2].map((k) => join(work, `shard-${k}.npy`));
    const results = await Promise.all(parts.map((p, k) => cli(embedArgs(p, '--shard', `${k}/3`))));
    for (const r of results) expect(r.status, r.stderr).toBe(0);
    expect(results[1].stderr).toMatch(/2 images \(shard 1\/3 of 6 images\)/);
    const merged = join(work, 'merged.npy');
    const r = await cli(['merge', ...parts, '--output', merged]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(merged).equals(readFileSync(whole))).toBe(true);
    expect(ids(join(work, 'merged.ids.txt'))).toEqual(images);
  });

  it('a run killed with SIGKILL while writing its second part, resumed, gives the bytes of an uninterrupted run', async () => {
    const out = join(work, 'killed.npy');
    // Writes: 1 the manifest, 2 the first part (batch 0), 3 the second part (batch 1), ...
    const run = startCli(embedArgs(out, '--part-size', '1'), { DINOV2_WEBGPU_FAULT_PAUSE_WRITE: '3' });
    await waitForStderr(run, /paused half-way through writing/);
    run.child.kill('SIGKILL');
    await run.done;
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(`${out}.parts`).filter((f) => f.endsWith('.safetensors'))).toHaveLength(1);
    // Without --resume the saved parts are not silently thrown away.
    let r = await cli(embedArgs(out, '--part-size', '1'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/killed\.npy\.parts holds the saved parts of an interrupted run: add --resume/);
    // A different job cannot resume them.
    r = await cli([
      'embed',
      photos,
      '--model',
      TINY,
      '--batch-size',
      '3',
      '--pooling',
      'cls+patch-mean',
      '--output',
      out,
      '--resume',
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/saved by a different job \(different batchSize\)/);
    r = await cli(embedArgs(out, '--part-size', '1', '--resume'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/6 images, 4 images left to do/);
    expect(readFileSync(out).equals(readFileSync(whole))).toBe(true);
    expect(ids(join(work, 'killed.ids.txt'))).toEqual(images);
    expect(existsSync(`${out}.parts`)).toBe(false);
  });
});

describe('bad images', () => {
  const mixed = join(work, 'mixed');
  beforeAll(() => {
    mkdirSync(mixed);
    copyFileSync(join(FIXTURES, 'img2-224x224.png'), join(mixed, 'a.png'));
    writeFileSync(join(mixed, 'b-broken.png'), 'this is not a png');
    copyFileSync(join(FIXTURES, 'img3-256x256.png'), join(mixed, 'c.png'));
    writeFileSync(join(mixed, 'd-empty.jpg'), '');
  });
  const args = (out: string, ...extra: string[]) => [
    'embed',
    mixed,
    '--model',
    TINY,
    '--batch-size',
    '1',
    '--part-size',
    '1',
    '--format',
    'json',
    '--output',
    out,
    ...extra,
  ];

  it('stop the run at the first, named, keeping what was done; --resume --skip-bad finishes it', async () => {
    const out = join(work, 'mixed.json');
    let r = await cli(args(out));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /b-broken\.png: .*\(stopped; what was done is kept in .*mixed\.json\.parts: rerun with --resume/,
    );
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(`${out}.parts`).filter((f) => f.endsWith('.safetensors'))).toHaveLength(1);
    r = await cli(args(out, '--resume', '--skip-bad'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/skipped .*b-broken\.png/);
    expect(r.stderr).toMatch(/skipped 2 images that could not be read: .*b-broken\.png, .*d-empty\.jpg/);
    const written = JSON.parse(readFileSync(out, 'utf8')) as { embeddings: { image: string }[] };
    expect(written.embeddings.map((e) => e.image)).toEqual([join(mixed, 'a.png'), join(mixed, 'c.png')]);
  });

  it('in an input list, skipped with --skip-bad: the good rows equal those of a run on the good images alone', async () => {
    const list = join(work, 'mixed.txt');
    writeFileSync(
      list,
      ['a.png', 'b-broken.png', 'c.png', 'd-empty.jpg'].map((f) => join(mixed, f)).join('\n'),
    );
    const out = join(work, 'mixed-list.npy');
    let r = await cli(['embed', '--input-list', list, '--model', TINY, '--output', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/b-broken\.png/);
    expect(existsSync(out)).toBe(false);
    r = await cli([
      'embed',
      '--input-list',
      list,
      '--model',
      TINY,
      '--output',
      out,
      '--skip-bad',
      '--resume',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const good = join(work, 'good.npy');
    r = await cli(['embed', join(mixed, 'a.png'), join(mixed, 'c.png'), '--model', TINY, '--output', good]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(out).equals(readFileSync(good))).toBe(true);
    expect(ids(join(work, 'mixed-list.ids.txt'))).toEqual([join(mixed, 'a.png'), join(mixed, 'c.png')]);
  });
});
