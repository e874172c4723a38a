// The golden checks of test/golden/models.test.ts, in headless Chromium: the page imports the
// built bundle (dist/index.js), fetches each fixture over HTTP, runs it on the browser's WebGPU
// (SwiftShader on a machine without a GPU) and measures every tensor there; Node asserts each
// within 1e-4 relative. Measured errors go to test-output/browser-golden-errors.json.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Library from '../../src/index.js';
import { relativeError, TOLERANCE } from '../helpers/compare.js';
import { DINOV3_FIXTURE_ROOTS, FIXTURE_ROOTS } from '../helpers/fixtures.js';
import {
  type AdapterReport,
  type ChromiumSession,
  ensureBuilt,
  launchChromium,
  pageAdapter,
  REPO_ROOT,
  serveStatic,
  type StaticServer,
} from '../../tools/chromium.js';

interface FixtureCase {
  model: string; // the folder, relative to the repository root
  name: string; // root/folder/case, e.g. golden/tiny-gelu/masked
  case: string;
  architecture: string;
  out_indices: number[] | null;
}

/** Both families' fixture roots. */
const ROOTS = [...FIXTURE_ROOTS, ...DINOV3_FIXTURE_ROOTS];

/** Every case of every fixture model folder, read from cases.json (the files themselves are fetched by the page). */
function fixtureCases(): FixtureCase[] {
  const cases: FixtureCase[] = [];
  for (const root of ROOTS) {
    if (!existsSync(join(REPO_ROOT, root))) continue;
    for (const name of readdirSync(join(REPO_ROOT, root)).sort()) {
      const dir = join(root, name);
      if (!existsSync(join(REPO_ROOT, dir, 'cases.json')) || !existsSync(join(REPO_ROOT, dir, 'config.json')))
        continue;
      const config = JSON.parse(readFileSync(join(REPO_ROOT, dir, 'config.json'), 'utf8')) as {
        architectures?: string[];
      };
      const list = JSON.parse(readFileSync(join(REPO_ROOT, dir, 'cases.json'), 'utf8')) as {
        case: string;
        out_indices: number[] | null;
      }[];
      for (const c of list)
        cases.push({
          model: dir,
          name: `${basename(root)}/${name}/${c.case}`,
          case: c.case,
          architecture: config.architectures?.[0] ?? '',
          out_indices: c.out_indices,
        });
    }
  }
  return cases;
}

/**
 * One case per model folder keeps the run within a few minutes of SwiftShader; these few add the
 * paths the first cases miss (mask token, a non-square grid with the backbone's out_indices).
 * BROWSER_GOLDEN=all runs every case.
 */
const EXTRA_CASES = new Set(['golden/tiny-gelu/masked', 'golden/tiny-gelu/nonsquare-42x70']);

function selectedCases(): FixtureCase[] {
  const all = fixtureCases();
  if (process.env.BROWSER_GOLDEN === 'all') return all;
  const seen = new Set<string>();
  return all.filter((c) => {
    const first = !seen.has(c.model);
    seen.add(c.model);
    return first || EXTRA_CASES.has(c.name);
  });
}

interface TensorResult {
  name: string;
  /** max |out - ref| / max |ref| (Infinity for NaN or a length mismatch); not finite ones as text, which JSON would turn into null. */
  error: number | string;
  dims: number[];
  expectedDims: number[];
  firstMismatches: string[];
}

interface CaseResult {
  tensors: TensorResult[];
  hiddenStates: number;
  attentions: number;
  featureMaps: number;
  referenceHiddenStates: number;
  referenceAttentions: number;
  numHiddenLayers: number;
  /** Milliseconds in the page: fetch and parse, fromCheckpoint, forward, read back and compare (all three models). */
  ms: { fetch: number; load: number; forward: number; compare: number; total: number };
}

interface CaseRequest extends FixtureCase {
  libraryUrl: string;
  relativeErrorSource: string;
  tolerance: number;
}

/**
 * Runs in the page: everything it uses comes in through `req` (puppeteer sends the function's
 * source, so it cannot close over anything here). The comparison is compare.ts's relativeError,
 * sent as source, so the browser and Node measure the same way.
 */
async function runCaseInPage(req: CaseRequest): Promise<CaseResult> {
  const start = performance.now();
  const ms = { fetch: 0, load: 0, forward: 0, compare: 0, total: 0 };
  const timed = async <T>(
    phase: 'fetch' | 'load' | 'forward' | 'compare',
    work: () => Promise<T>,
  ): Promise<T> => {
    const t = performance.now();
    try {
      return await work();
    } finally {
      ms[phase] += performance.now() - t;
    }
  };
  // Through Function so that no transform of this file rewrites the browser's own import().
  const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;
  const lib = (await importModule(req.libraryUrl)) as typeof Library;
  const measure = new Function(`return (${req.relativeErrorSource});`)() as (
    out: ArrayLike<number>,
    ref: ArrayLike<number>,
  ) => number;

  const state = globalThis as { dinov2ErrorsWatched?: boolean };
  if (!state.dinov2ErrorsWatched) {
    const { device } = await lib.defaultDevice();
    device.addEventListener('uncapturederror', (e) =>
      console.error(`WebGPU uncaptured error: ${(e as GPUUncapturedErrorEvent).error.message}`),
    );
    void device.lost.then((info) => console.error(`WebGPU device lost (${info.reason}): ${info.message}`));
    state.dinov2ErrorsWatched = true;
  }

  const bytes = async (path: string) => {
    const res = await fetch(`/${path}`);
    if (!res.ok) throw new Error(`GET /${path}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  };
  const configPath = `${req.model}/config.json`;
  const weightsPath = `${req.model}/model.safetensors`;
  const casePath = `${req.model}/${req.case}.safetensors`;
  const [config, weights, file] = await timed(
    'fetch',
    async () =>
      [
        lib.parseModelConfig(JSON.parse(new TextDecoder().decode(await bytes(configPath))), configPath),
        lib.SafetensorsFile.parse(await bytes(weightsPath), weightsPath),
        lib.SafetensorsFile.parse(await bytes(casePath), casePath),
      ] as const,
  );

  const pixel_values = { data: file.float32('pixel_values'), dims: file.info('pixel_values').shape };
  const bool_masked_pos = file.has('bool_masked_pos')
    ? { data: file.bytes('bool_masked_pos'), dims: file.info('bool_masked_pos').shape }
    : undefined;

  const tensors: TensorResult[] = [];
  const compare = (name: string, tensor: { read(): Promise<Float32Array>; dims: number[] }) =>
    timed('compare', async () => {
      const out = await tensor.read();
      const ref = file.float32(name);
      const error = measure(out, ref);
      const firstMismatches: string[] = [];
      if (!(error <= req.tolerance)) {
        let maxRef = 0;
        for (let i = 0; i < ref.length; i++) maxRef = Math.max(maxRef, Math.abs(ref[i]));
        for (let i = 0; i < ref.length && firstMismatches.length < 5; i++) {
          if (!(Math.abs(out[i] - ref[i]) <= req.tolerance * (maxRef || 1)))
            firstMismatches.push(`[${i}] got ${out[i]}, want ${ref[i]}`);
        }
      }
      tensors.push({
        name,
        error: Number.isFinite(error) ? error : String(error),
        dims: [...tensor.dims],
        expectedDims: [...file.info(name).shape],
        firstMismatches,
      });
    });

  const dinov3 = lib.isDinov3(config);
  const model = await timed(
    'load',
    (): Promise<Library.BaseModel> =>
      dinov3
        ? lib.DINOv3ViTModel.fromCheckpoint(config, weights)
        : lib.Dinov2WithRegistersModel.fromCheckpoint(config, weights),
  );
  const out = await timed('forward', () =>
    model.forward(pixel_values, { bool_masked_pos, output_hidden_states: true, output_attentions: true }),
  );
  await compare('last_hidden_state', out.last_hidden_state);
  await compare('pooler_output', out.pooler_output);
  for (const [i, t] of (out.hidden_states ?? []).entries()) await compare(`hidden_states.${i}`, t);
  for (const [i, t] of (out.attentions ?? []).entries()) await compare(`attentions.${i}`, t);
  model.dispose();

  if (req.architecture.endsWith('ForImageClassification')) {
    const classifier = await timed('load', () =>
      lib.Dinov2WithRegistersForImageClassification.fromCheckpoint(config, weights),
    );
    await compare(
      'logits',
      (await timed('forward', () => classifier.forward(pixel_values, { bool_masked_pos }))).logits,
    );
    classifier.dispose();
  }
  let featureMaps = 0;
  const outIndices = req.out_indices;
  if (outIndices) {
    const backbone = await timed(
      'load',
      (): Promise<Library.DINOv3ViTBackbone | Library.Dinov2WithRegistersBackbone> =>
        dinov3
          ? lib.DINOv3ViTBackbone.fromCheckpoint(config, weights)
          : lib.Dinov2WithRegistersBackbone.fromCheckpoint(config, weights),
    );
    const maps = (
      await timed('forward', () =>
        backbone.forward(pixel_values, { bool_masked_pos, out_indices: outIndices }),
      )
    ).feature_maps;
    featureMaps = maps.length;
    for (const [j, t] of maps.entries()) await compare(`feature_maps.${j}`, t);
    backbone.dispose();
  }
  return {
    tensors,
    hiddenStates: out.hidden_states?.length ?? 0,
    attentions: out.attentions?.length ?? 0,
    featureMaps,
    referenceHiddenStates: file.names.filter((n) => n.startsWith('hidden_states.')).length,
    referenceAttentions: file.names.filter((n) => n.startsWith('attentions.')).length,
    numHiddenLayers: config.num_hidden_layers,
    ms: { ...ms, total: performance.now() - start },
  };
}

const cases = selectedCases();
const errors: Record<string, Record<string, number>> = {};
let server: StaticServer | undefined;
let chromium: ChromiumSession | undefined;
let adapter: AdapterReport | null = null;
let libraryDevice: { adapterInfo: Library.DeviceInfo['adapterInfo']; isSoftware: boolean } | undefined;

/** The library's own view of the page's device (defaultDevice(), as a page using the bundle gets it). */
function libraryDeviceInPage(
  libraryUrl: string,
): Promise<{ adapterInfo: Library.DeviceInfo['adapterInfo']; isSoftware: boolean }> {
  return chromium!.page.evaluate(async (url: string) => {
    const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;
    const lib = (await importModule(url)) as typeof Library;
    const { adapterInfo, isSoftware } = await lib.defaultDevice();
    return { adapterInfo, isSoftware };
  }, libraryUrl);
}

beforeAll(async () => {
  const build = ensureBuilt();
  console.log(build.built ? `built dist/ in ${build.ms} ms` : 'dist/ is up to date with src/');
  server = await serveStatic();
  chromium = await launchChromium({ origin: server.origin });
  await chromium.page.goto(`${server.origin}/test/browser/page.html`);
  adapter = await pageAdapter(chromium.page);
  console.log(`WebGPU adapter in Chromium (${await chromium.browser.version()}): ${JSON.stringify(adapter)}`);
  if (adapter) {
    libraryDevice = await libraryDeviceInPage(`${server.origin}/dist/index.js`);
    console.log(`dist/index.js defaultDevice(): ${JSON.stringify(libraryDevice)}`);
  }
});

afterAll(async () => {
  mkdirSync(join(REPO_ROOT, 'test-output'), { recursive: true });
  writeFileSync(
    join(REPO_ROOT, 'test-output/browser-golden-errors.json'),
    `${JSON.stringify({ adapter, libraryDevice, errors }, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`,
  );
  await chromium?.close();
  await server?.close();
});

describe("golden fixtures in headless Chromium (dist/index.js on the page's WebGPU)", () => {
  it('navigator.gpu gives an adapter, and says what it is', () => {
    expect(
      adapter,
      'navigator.gpu.requestAdapter() gave null: WebGPU is off in this Chromium',
    ).not.toBeNull();
    expect(
      adapter!.vendor || adapter!.architecture || adapter!.description,
      'adapter info is empty',
    ).not.toBe('');
    // The bundle's defaultDevice() takes the same adapter and says so; SwiftShader is never taken for a GPU.
    expect(libraryDevice?.adapterInfo).toMatchObject({
      vendor: adapter!.vendor,
      architecture: adapter!.architecture,
      isFallbackAdapter: adapter!.isFallbackAdapter,
    });
    if (adapter!.isFallbackAdapter || /swiftshader/i.test(adapter!.architecture))
      expect(libraryDevice?.isSoftware).toBe(true);
  });

  it('runs a case of every fixture model folder', () => {
    const folders = ROOTS.flatMap((root) =>
      existsSync(join(REPO_ROOT, root))
        ? readdirSync(join(REPO_ROOT, root))
            .filter((n) => existsSync(join(REPO_ROOT, root, n, 'model.safetensors')))
            .map((n) => join(root, n))
        : [],
    );
    expect(folders.length, 'no fixture models found').toBeGreaterThan(0);
    expect(new Set(cases.map((c) => c.model))).toEqual(new Set(folders));
  });

  for (const c of cases) {
    it(`${c.name} (${c.architecture}): every output within ${TOLERANCE}`, async () => {
      expect(adapter, 'no WebGPU adapter in the page').not.toBeNull();
      const { page, problems } = chromium!;
      const problemsBefore = problems.length;
      const request: CaseRequest = {
        ...c,
        libraryUrl: `${server!.origin}/dist/index.js`,
        relativeErrorSource: relativeError.toString(),
        tolerance: TOLERANCE,
      };
      const result = await page.evaluate(runCaseInPage, request);
      const name = c.name;
      const measured = result.tensors.map((t) => ({ ...t, error: Number(t.error) }));
      errors[name] = Object.fromEntries(measured.map((t) => [t.name, t.error]));
      const worst = measured.reduce((a, t) => (!(t.error <= a.error) ? t : a));
      console.log(
        `${name}: ${measured.length} tensors, worst ${worst.name} ${worst.error.toExponential(2)}; ms in the page ${JSON.stringify(result.ms, (_, v) => (typeof v === 'number' ? Math.round(v) : v))}`,
      );

      expect(problems.slice(problemsBefore), 'page console errors / exceptions').toEqual([]);
      expect(result.hiddenStates).toBe(result.numHiddenLayers + 1);
      expect(result.referenceHiddenStates).toBe(result.numHiddenLayers + 1);
      expect(result.attentions).toBe(result.numHiddenLayers);
      expect(result.referenceAttentions).toBe(result.numHiddenLayers);
      if (c.out_indices) expect(result.featureMaps).toBe(c.out_indices.length);
      for (const t of measured) {
        expect(t.dims, `${name} ${t.name} dims`).toEqual(t.expectedDims);
        // NaN is Infinity here (relativeError) and fails `<=`.
        expect(
          t.error <= TOLERANCE,
          `${name} ${t.name}: relative error ${t.error.toExponential(3)} > ${TOLERANCE}; first mismatches: ${t.firstMismatches.join('; ')}`,
        ).toBe(true);
      }
    });
  }
});
