// Reading fixture folders: <model>/config.json + model.safetensors, <model>/cases.json and one
// <case>.safetensors per case holding the inputs and the expected outputs (see
// test/fixtures/golden/PROVENANCE.md for the layout).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type Dinov2Config } from '../../src/io/config.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import type { ReferenceInputs } from './dinov2_f64.js';

export interface FixtureCase {
  case: string;
  /** [B, C, H, W] of pixel_values. */
  shape: number[];
  mask: boolean;
  out_indices: number[] | null;
  [more: string]: unknown;
}

export interface FixtureModel {
  name: string;
  dir: string;
  config: Dinov2Config;
  weights: SafetensorsFile;
  cases: FixtureCase[];
}

/** The model folders under `root` (those with a config.json), sorted by name. */
export function fixtureModelDirs(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(root, e.name, 'config.json')))
    .map((e) => e.name)
    .sort();
}

export function loadFixtureModel(dir: string, name = dir): FixtureModel {
  const config = parseConfig(
    JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')),
    join(dir, 'config.json'),
  );
  const weights = SafetensorsFile.parse(
    new Uint8Array(readFileSync(join(dir, 'model.safetensors'))),
    join(dir, 'model.safetensors'),
  );
  const casesPath = join(dir, 'cases.json');
  const cases = existsSync(casesPath) ? (JSON.parse(readFileSync(casesPath, 'utf8')) as FixtureCase[]) : [];
  return { name, dir, config, weights, cases };
}

export function loadCaseFile(model: FixtureModel, c: FixtureCase): SafetensorsFile {
  const path = join(model.dir, `${c.case}.safetensors`);
  return SafetensorsFile.parse(new Uint8Array(readFileSync(path)), path);
}

/** The reference's inputs from a case file: pixel_values [B, C, H, W] and bool_masked_pos [B, patches] when present. */
export function caseInputs(file: SafetensorsFile, c: FixtureCase): ReferenceInputs {
  const [batch, , height, width] = file.info('pixel_values').shape;
  const inputs: ReferenceInputs = {
    pixelValues: file.float64('pixel_values'),
    batch,
    height,
    width,
    outIndices: c.out_indices ?? [],
  };
  if (file.has('bool_masked_pos')) inputs.boolMaskedPos = file.bytes('bool_masked_pos');
  return inputs;
}

/** max |actual - expected| / max |expected|, NaN anywhere gives Infinity. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (Number.isNaN(d)) return Infinity;
    if (d > maxDiff) maxDiff = d;
    const r = Math.abs(expected[i]);
    if (r > maxRef) maxRef = r;
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}

/** The expected outputs stored in a case file: every tensor that is not an input. */
export function expectedNames(file: SafetensorsFile): string[] {
  return file.names.filter((n) => n !== 'pixel_values' && n !== 'bool_masked_pos');
}
