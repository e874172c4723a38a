// Adds one case to a fixture model folder, in the golden layout (test/fixtures/golden/PROVENANCE.md):
// DIR/NAME.safetensors holds the inputs (pixel_values [B, C, H, W] and, with --mask, bool_masked_pos
// [B, patches]) and every output of the float64 CPU reference (test/reference/dinov2_f64.ts, or
// test/reference/dinov3_f64.ts when config.json says model_type "dinov3_vit"; each checked against
// its golden fixtures to 1e-6), stored F32; DIR/cases.json gets the case's entry.
//
//   npx tsx scripts/make_fixture.ts --model DIR --case NAME --batch B --height H --width W \
//     [--mask] [--out-indices i,j] [--seed S]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeSafetensors, type WritableTensor } from '../src/io/safetensors.js';
import { parseDinov3Config } from '../src/io/config_dinov3.js';
import { SafetensorsFile } from '../src/io/safetensors.js';
import {
  namedOutputs,
  referenceForward,
  type ReferenceInputs,
  type Tensor64,
} from '../test/reference/dinov2_f64.js';
import { dinov3NamedOutputs, dinov3ReferenceForward } from '../test/reference/dinov3_f64.js';
import { loadFixtureModel, type FixtureCase } from '../test/reference/fixtures.js';
import { Random } from '../test/reference/random.js';
import { integerList, parseArgs, required, UsageError } from '../src/cli/args.js';

export interface FixtureOptions {
  model: string;
  case: string;
  batch: number;
  height: number;
  width: number;
  mask: boolean;
  outIndices: number[] | null;
  seed: number;
}

/** The fraction of patches a masked case replaces by the mask token. */
const MASK_FRACTION = 0.4;

export function makeFixture(o: FixtureOptions): { path: string; tensors: number; worstAttention: number } {
  if (!/^[A-Za-z0-9._-]+$/.test(o.case) || o.case === 'model' || o.case === 'config' || o.case === 'cases') {
    throw new Error(
      `--case ${JSON.stringify(o.case)}: use letters, digits, '.', '_' or '-', and not a name the folder already uses`,
    );
  }
  for (const k of ['batch', 'height', 'width'] as const) {
    if (!(Number.isInteger(o[k]) && o[k] > 0)) throw new Error(`--${k} must be a positive integer`);
  }
  if (o.mask && o.outIndices) {
    // transformers' Backbone takes no bool_masked_pos: masked feature maps are not a thing it can make.
    throw new Error('--mask and --out-indices cannot be combined (the backbone takes no bool_masked_pos)');
  }
  const configJson = JSON.parse(readFileSync(join(o.model, 'config.json'), 'utf8')) as {
    model_type?: unknown;
  };
  const dinov3 = configJson.model_type === 'dinov3_vit';
  const model = dinov3 ? loadDinov3Model(o.model) : { dinov3: false as const, ...loadFixtureModel(o.model) };
  const { config } = model;
  const p = config.patch_size;
  const grid = [Math.floor(o.height / p), Math.floor(o.width / p)];
  const patches = grid[0] * grid[1];
  if (patches === 0) throw new Error(`${o.height}x${o.width} holds no ${p}x${p} patch`);

  const shape = [o.batch, config.num_channels, o.height, o.width];
  const pixels = Random.stream(o.seed, `${o.case}/pixel_values`).normals(shape.reduce((a, b) => a * b, 1));
  const inputs: ReferenceInputs = {
    pixelValues: pixels,
    batch: o.batch,
    height: o.height,
    width: o.width,
    outIndices: o.outIndices ?? [],
  };
  const tensors: Record<string, WritableTensor> = { pixel_values: { dtype: 'F32', shape, data: pixels } };
  if (o.mask) {
    const rng = Random.stream(o.seed, `${o.case}/bool_masked_pos`);
    const mask = new Uint8Array(o.batch * patches);
    for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() < MASK_FRACTION ? 1 : 0;
    // At least one masked and one kept patch per image, so the case means something.
    for (let b = 0; b < o.batch; b++) {
      mask[b * patches] = 1;
      if (patches > 1) mask[b * patches + patches - 1] = 0;
    }
    inputs.boolMaskedPos = mask;
    tensors.bool_masked_pos = { dtype: 'BOOL', shape: [o.batch, patches], data: mask };
  }

  let named: Map<string, Tensor64>;
  let outputs: { attentions: Tensor64[] };
  if (model.dinov3) {
    const out = dinov3ReferenceForward(model.config, model.weights, inputs);
    [named, outputs] = [dinov3NamedOutputs(out), out];
  } else {
    const out = referenceForward(model.config, model.weights, inputs);
    [named, outputs] = [namedOutputs(out), out];
  }
  for (const [name, t] of named)
    tensors[name] = { dtype: 'F32', shape: t.dims, data: Float32Array.from(t.data) };
  // How peaky attention is: the largest probability, averaged over rows (1/T would be uniform).
  const a = outputs.attentions[outputs.attentions.length - 1];
  const T = a.dims[3];
  let sumMax = 0;
  for (let r = 0; r < a.data.length / T; r++) sumMax += Math.max(...a.data.subarray(r * T, r * T + T));
  const worstAttention = sumMax / (a.data.length / T);

  const path = join(o.model, `${o.case}.safetensors`);
  writeFileSync(path, writeSafetensors(tensors));

  const casesPath = join(o.model, 'cases.json');
  const cases: FixtureCase[] = existsSync(casesPath) ? JSON.parse(readFileSync(casesPath, 'utf8')) : [];
  const entry: FixtureCase = model.dinov3
    ? {
        case: o.case,
        shape,
        patch_grid: grid,
        tokens: 1 + model.config.num_register_tokens + patches,
        mask: o.mask,
        out_indices: o.outIndices,
        checked_against_original: false,
        made_by: 'scripts/make_fixture.ts (float64 reference, test/reference/dinov3_f64.ts)',
        seed: o.seed,
      }
    : {
        case: o.case,
        shape,
        mask: o.mask,
        out_indices: o.outIndices,
        checked_against_original: false,
        made_by: 'scripts/make_fixture.ts (float64 reference, test/reference/dinov2_f64.ts)',
        seed: o.seed,
      };
  const at = cases.findIndex((c) => c.case === o.case);
  if (at >= 0) cases[at] = entry;
  else cases.push(entry);
  writeFileSync(casesPath, `${JSON.stringify(cases, null, 2)}\n`);
  return { path, tensors: Object.keys(tensors).length, worstAttention };
}

/** A DINOv3 model folder: its config (parsed as DINOv3ViTConfig) and weights. */
function loadDinov3Model(dir: string) {
  const configPath = join(dir, 'config.json');
  const config = parseDinov3Config(JSON.parse(readFileSync(configPath, 'utf8')), configPath);
  const weightsPath = join(dir, 'model.safetensors');
  const weights = SafetensorsFile.parse(new Uint8Array(readFileSync(weightsPath)), weightsPath);
  return { dinov3: true as const, config, weights };
}

function parseOptions(argv: string[]): FixtureOptions {
  const args = parseArgs(
    argv,
    ['model', 'case', 'batch', 'height', 'width', 'seed', 'out-indices'],
    ['mask'],
  );
  if (args.positional.length) throw new UsageError(`unexpected argument ${args.positional[0]}`);
  const int = (name: string) => {
    const [v] = integerList(required(args, name), name);
    return v;
  };
  const indices = args.values.get('out-indices');
  return {
    model: required(args, 'model'),
    case: required(args, 'case'),
    batch: int('batch'),
    height: int('height'),
    width: int('width'),
    seed: args.values.has('seed') ? int('seed') : 0,
    mask: args.flags.has('mask'),
    outIndices: indices === undefined ? null : integerList(indices, 'out-indices'),
  };
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  try {
    const options = parseOptions(process.argv.slice(2));
    const { path, tensors, worstAttention } = makeFixture(options);
    console.log(
      `${path}: ${tensors} tensors (mean max attention probability in the last layer ${worstAttention.toFixed(3)})`,
    );
  } catch (e) {
    console.error(`make_fixture: ${(e as Error).message}`);
    process.exit(1);
  }
}
