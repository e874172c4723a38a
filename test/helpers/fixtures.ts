import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type Dinov2Config } from '../../src/io/config.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';

export const FIXTURE_ROOTS = ['test/fixtures/golden', 'test/fixtures/generated'];

export interface GoldenCase {
  case: string;
  shape: number[];
  mask: boolean;
  out_indices: number[] | null;
  file: SafetensorsFile;
}

export interface GoldenModel {
  name: string;
  dir: string;
  config: Dinov2Config;
  weights: SafetensorsFile;
  cases: GoldenCase[];
}

export function readSafetensors(path: string): SafetensorsFile {
  return SafetensorsFile.parse(new Uint8Array(readFileSync(path)), path);
}

/** Every fixture model folder (config.json + model.safetensors + cases.json) under the fixture roots. */
export function goldenModels(): GoldenModel[] {
  const models: GoldenModel[] = [];
  for (const root of FIXTURE_ROOTS) {
    if (!existsSync(root)) continue;
    for (const name of readdirSync(root).sort()) {
      const dir = join(root, name);
      if (!existsSync(join(dir, 'cases.json'))) continue;
      const config = parseConfig(
        JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')),
        join(dir, 'config.json'),
      );
      const cases = (
        JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as Omit<GoldenCase, 'file'>[]
      ).map((c) => ({
        ...c,
        file: readSafetensors(join(dir, `${c.case}.safetensors`)),
      }));
      models.push({ name, dir, config, weights: readSafetensors(join(dir, 'model.safetensors')), cases });
    }
  }
  return models;
}
