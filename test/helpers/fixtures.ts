import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type Dinov2Config } from '../../src/io/config.js';
import { type Dinov3Config, parseDinov3Config } from '../../src/io/config_dinov3.js';
import type { ModelConfig } from '../../src/io/model_config.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';

export const FIXTURE_ROOTS = ['test/fixtures/golden', 'test/fixtures/generated'];
/** DINOv3's: the golden set (../shared/golden-dinov3, vendored) and the generated configurations. */
export const DINOV3_FIXTURE_ROOTS = ['test/fixtures/golden-dinov3', 'test/fixtures/generated-dinov3'];

export interface GoldenCase {
  case: string;
  shape: number[];
  mask: boolean;
  out_indices: number[] | null;
  file: SafetensorsFile;
}

export interface GoldenModel<C extends ModelConfig = Dinov2Config> {
  name: string;
  dir: string;
  config: C;
  weights: SafetensorsFile;
  cases: GoldenCase[];
}

export function readSafetensors(path: string): SafetensorsFile {
  return SafetensorsFile.parse(new Uint8Array(readFileSync(path)), path);
}

/** Every DINOv2 fixture model folder (config.json + model.safetensors + cases.json) under the fixture roots. */
export function goldenModels(): GoldenModel[] {
  return modelsUnder(FIXTURE_ROOTS, parseConfig);
}

/** Every DINOv3 fixture model folder. */
export function dinov3GoldenModels(): GoldenModel<Dinov3Config>[] {
  return modelsUnder(DINOV3_FIXTURE_ROOTS, parseDinov3Config);
}

function modelsUnder<C extends ModelConfig>(
  roots: string[],
  parse: (json: unknown, source: string) => C,
): GoldenModel<C>[] {
  const models: GoldenModel<C>[] = [];
  for (const root of roots) {
    if (!existsSync(root)) continue;
    for (const name of readdirSync(root).sort()) {
      const dir = join(root, name);
      if (!existsSync(join(dir, 'cases.json')) || !existsSync(join(dir, 'config.json'))) continue;
      const config = parse(
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
