// The demo page (demo/, what `npm start` serves) in headless Chromium: built with vite to a
// temporary folder and served from 127.0.0.1, it runs the bundled tiny model on a bundled sample
// on the page's WebGPU (SwiftShader without a GPU). Its canvases are read back pixel by pixel and
// compared with the same views computed here in Node, by demo/src/views, from the library's
// outputs for the same image (Dawn): the colour of each patch is turned back into its colormap
// step and must be within one step (PCA: two levels per channel). Then a click on a patch, the
// PCA foreground threshold, another layer, the twin without registers side by side, per-kernel
// times, a hub model that cannot load offline, another sample, the .npy download, a local
// checkpoint folder with a classifier (top-5), the webcam (Chromium's synthetic camera), the
// bundled DINOv3 model (patch 16, squashed to 224 x 224: every canvas and the picture under the
// maps against Node, a DINOv3 hub model offline, a gated one refused with 401 and 403), the
// messages for a browser without WebGPU, and the dev server of `npm start`. After each action, at
// 1280 and 800 px wide, no panel's content is wider than its panel and the model picker names the
// model whose maps are shown. Screenshots go to test-output/demo.png and demo-kernels.png.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeViews, layoutFor, type Views } from '../../demo/src/views/index.js';
import { nearestStep, step } from '../../demo/src/views/colormap.js';
import { pcaPicture } from '../../demo/src/views/pca.js';
import { cosineSimilarities } from '../../demo/src/views/similarity.js';
import { patchFeatures } from '../../demo/src/views/tokens.js';
import { fromNpy } from '../../demo/src/views/npy.js';
import { loadImageNode } from '../../src/image/decode_node.js';
import { pixelsToRgb, type Rgb } from '../../demo/src/views/crop.js';
import { readLocalCheckpoint } from '../../src/io/local_checkpoint.js';
import { processorFor } from '../../src/model/auto.js';
import { SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import {
  Dinov2WithRegistersForImageClassification,
  loadModel,
  type AllOutputs,
  type AnyModel,
} from '../../src/index.js';
import { expectClose } from '../helpers/compare.js';
import { testDevice } from '../helpers/gpu.js';
import {
  type ChromiumSession,
  launchChromium,
  REPO_ROOT,
  serveStatic,
  type StaticServer,
} from '../../tools/chromium.js';

const DEMO = join(REPO_ROOT, 'demo');
const MODEL = 'tiny-dinov2-with-registers';
const TWIN = 'tiny-dinov2';
const SAMPLE = 'balls';
const OUTPUT = join(REPO_ROOT, 'test-output');

let outDir: string;
let server: StaticServer | undefined;
let chromium: ChromiumSession | undefined;

// --- Node: the library on the same image, and the views computed from its outputs -------------

interface NodeRun {
  model: AnyModel;
  /** The model's input as pixels (pixel_values with the processor's rescale and normalize undone). */
  input: Rgb;
  out: AllOutputs;
  attentions: Float32Array[];
  lastHidden: Float32Array;
  hidden: Float32Array[];
  layout: ReturnType<typeof layoutFor>;
}

async function runInNode(dir: string, image: string, preprocessorConfig?: unknown): Promise<NodeRun> {
  const checkpoint = await readLocalCheckpoint(dir);
  const model = await loadModel(checkpoint.config, checkpoint.source, { device: await testDevice() });
  // The processor the checkpoint names, else its family's: what the page picks with processorFor.
  const processor = processorFor(
    preprocessorConfig ?? checkpoint.preprocessorConfig,
    `${dir}/preprocessor_config.json`,
    checkpoint.config,
  );
  const { pixel_values, dims } = processor.preprocess(await loadImageNode(image));
  const out = await model.forwardAll(
    { data: pixel_values, dims },
    { output_attentions: true, output_hidden_states: true },
  );
  return {
    model,
    input: pixelsToRgb(pixel_values, dims, processor.config),
    out,
    attentions: await Promise.all(out.attentions!.map((t) => t.read())),
    lastHidden: await out.last_hidden_state.read(),
    hidden: await Promise.all(out.hidden_states!.map((t) => t.read())),
    layout: layoutFor(model.config, dims[2], dims[3]),
  };
}

function nodeViews(r: NodeRun, layer: number, patch: number, pcaThreshold?: number): Views {
  const L = r.attentions.length;
  return computeViews(
    {
      layout: r.layout,
      attention: { data: r.attentions[layer], dims: r.out.attentions![layer].dims },
      lastHidden: { data: r.lastHidden, dims: r.out.last_hidden_state.dims },
      normHidden: { data: r.hidden[L], dims: r.out.hidden_states![L].dims },
    },
    { patch, pcaThreshold },
  );
}

// --- the page -----------------------------------------------------------------------------------

interface CanvasPixels {
  width: number;
  height: number;
  rgba: number[];
  patch?: string;
}

function canvasPixels(view: string): Promise<CanvasPixels | null> {
  return chromium!.page.evaluate((v) => {
    const c = document.querySelector<HTMLCanvasElement>(`canvas[data-view="${v}"]`);
    if (!c) return null;
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    return { width: c.width, height: c.height, rgba: Array.from(data), patch: c.dataset.patch };
  }, view);
}

/** Each pixel's colour back to its colormap step, against the steps of the Node values: within one step everywhere. */
async function expectScalarCanvas(
  view: string,
  values: Float64Array,
  range: { min: number; max: number },
  grid: [number, number],
): Promise<number> {
  const px = await canvasPixels(view);
  expect(px, `canvas[data-view=${view}] is on the page`).not.toBeNull();
  expect([px!.height, px!.width], `${view}: one pixel per patch`).toEqual(grid);
  let worst = 0;
  const bad: string[] = [];
  for (let i = 0; i < values.length; i++) {
    expect(px!.rgba[i * 4 + 3]).toBe(255);
    const got = nearestStep(px!.rgba[i * 4], px!.rgba[i * 4 + 1], px!.rgba[i * 4 + 2]);
    const want = step(values[i], range);
    const diff = Math.abs(got - want);
    worst = Math.max(worst, diff);
    if (diff > 1 && bad.length < 5) bad.push(`patch ${i}: step ${got}, Node ${want}`);
  }
  expect(worst, `${view}: ${bad.join('; ')}`).toBeLessThanOrEqual(1);
  // Not a flat picture: min-max scaling puts the smallest value at step 0 and the largest at 255.
  const steps = new Set(
    Array.from({ length: values.length }, (_, i) =>
      nearestStep(px!.rgba[i * 4], px!.rgba[i * 4 + 1], px!.rgba[i * 4 + 2]),
    ),
  );
  expect([steps.has(0), steps.has(255)], `${view}: spans the colormap`).toEqual([true, true]);
  return worst;
}

async function expectRgbCanvas(
  view: string,
  rgba: Uint8ClampedArray,
  grid: [number, number],
  tolerance = 2,
): Promise<number> {
  const px = await canvasPixels(view);
  expect(px).not.toBeNull();
  expect([px!.height, px!.width]).toEqual(grid);
  let worst = 0;
  for (let i = 0; i < rgba.length; i++) worst = Math.max(worst, Math.abs(px!.rgba[i] - rgba[i]));
  expect(worst, `${view}: max channel difference from Node`).toBeLessThanOrEqual(tolerance);
  return worst;
}

async function waitForRuns(after: number): Promise<number> {
  const page = chromium!.page;
  await page.waitForFunction(
    (n) => Number(document.body.dataset.runs ?? 0) > n || document.body.dataset.state === 'error',
    { timeout: 240_000 },
    after,
  );
  const state = await page.evaluate(() => ({
    state: document.body.dataset.state,
    runs: Number(document.body.dataset.runs ?? 0),
    status: document.getElementById('run-status')?.textContent,
  }));
  expect(state.state, `page: ${state.status}`).not.toBe('error');
  return state.runs;
}

async function waitReady(): Promise<void> {
  await chromium!.page.waitForFunction(
    () => document.body.dataset.state === 'ready' || document.body.dataset.state === 'error',
    { timeout: 240_000 },
  );
  const status = await chromium!.page.evaluate(
    () => `${document.body.dataset.state}: ${document.getElementById('run-status')?.textContent}`,
  );
  expect(status).toMatch(/^ready/);
}

const runs = () => chromium!.page.evaluate(() => Number(document.body.dataset.runs ?? 0));

/**
 * What went wrong in the page. Not counted: model files whose response body from_pretrained
 * cancelled after reading them (Chromium reports each as a request failed with ERR_ABORTED); a
 * load that really fails shows on the page, which the tests read.
 */
const pageProblems = () =>
  chromium!.problems.filter((p) => !/^request failed: \S+\/models\/\S+ \(net::ERR_ABORTED\)$/.test(p));

// --- layout: what a person sees ------------------------------------------------------------------

const WIDTHS = [1280, 800];
const HEIGHT = 1000;

/**
 * Every panel (the model bar, the sidebar's sections, the toolbar, the view panels) against its
 * content: nothing reaches past its edges or scrolls sideways, the two columns do not overlap, and
 * no <select> is narrower than its text (a select clips its text without scrolling).
 */
function layoutProblems(): Promise<string[]> {
  return chromium!.page.evaluate(() => {
    const problems: string[] = [];
    const name = (el: Element) =>
      `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''}`;
    const visible = (el: Element) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 || r.height > 0;
    };
    const panels = Array.from(
      document.querySelectorAll<HTMLElement>('#model-bar, aside section, #views > .toolbar, #views > .panel'),
    ).filter(visible);
    for (const panel of panels) {
      const p = panel.getBoundingClientRect();
      const column = panel.parentElement!.getBoundingClientRect();
      if (p.left < column.left - 0.5 || p.right > column.right + 0.5)
        problems.push(
          `${name(panel)} reaches past its column ${name(panel.parentElement!)}: [${p.left.toFixed(0)}, ${p.right.toFixed(0)}] outside [${column.left.toFixed(0)}, ${column.right.toFixed(0)}]`,
        );
      if (panel.scrollWidth > panel.clientWidth + 1)
        problems.push(`${name(panel)} scrolls sideways: ${panel.scrollWidth} > ${panel.clientWidth}`);
      for (const el of Array.from(panel.querySelectorAll('*')).filter(visible)) {
        const r = el.getBoundingClientRect();
        if (r.left < p.left - 0.5 || r.right > p.right + 0.5)
          problems.push(
            `${name(el)} in ${name(panel)}: [${r.left.toFixed(0)}, ${r.right.toFixed(0)}] outside [${p.left.toFixed(0)}, ${p.right.toFixed(0)}]`,
          );
      }
    }
    const aside = document.querySelector('aside')!.getBoundingClientRect();
    const views = document.getElementById('views')!.getBoundingClientRect();
    const sideBySide = aside.top < views.bottom && views.top < aside.bottom;
    if (sideBySide && aside.right > views.left + 0.5)
      problems.push(`the sidebar (right ${aside.right}) runs under the views (left ${views.left})`);
    if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1)
      problems.push(`the page scrolls sideways (${document.documentElement.scrollWidth} px)`);
    for (const select of Array.from(document.querySelectorAll<HTMLSelectElement>('select')).filter(visible)) {
      const shown = select.getBoundingClientRect().width;
      const { width, maxWidth } = select.style;
      select.style.width = 'max-content';
      select.style.maxWidth = 'none';
      const needed = select.getBoundingClientRect().width;
      select.style.width = width;
      select.style.maxWidth = maxWidth;
      if (shown < needed - 0.5)
        problems.push(
          `${name(select)} cuts "${select.selectedOptions[0]?.text}": ${shown.toFixed(0)} px of ${needed.toFixed(0)}`,
        );
    }
    return problems;
  });
}

/** The model picker's selected option and the model whose maps are shown (body[data-model]). */
function picker(): Promise<{ value: string; text: string; shown: string }> {
  return chromium!.page.evaluate(() => {
    const select = document.getElementById('model-select') as HTMLSelectElement;
    return {
      value: select.value,
      text: select.selectedOptions[0]?.text ?? '',
      shown: document.body.dataset.model ?? '',
    };
  });
}

/** After an action: at each width, no panel's content wider than its panel, and the picker names the model shown. */
async function expectLayout(after: string): Promise<void> {
  const page = chromium!.page;
  for (const width of WIDTHS) {
    await page.setViewport({ width, height: HEIGHT });
    expect(await layoutProblems(), `after ${after}, ${width} px wide`).toEqual([]);
  }
  await page.setViewport({ width: WIDTHS[0], height: HEIGHT });
  const p = await picker();
  expect(p.shown, `after ${after}: a model is shown`).not.toBe('');
  expect(p.text, `after ${after}: the picker names ${p.shown}`).toContain(p.shown);
}

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'dinov2-demo-'));
  await build({
    configFile: join(DEMO, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true, sourcemap: false },
  });
  server = await serveStatic(outDir);
  // A synthetic camera for the webcam test, allowed without a prompt.
  const fakeCamera = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];
  chromium = await launchChromium({
    origin: server.origin,
    extraFlags: fakeCamera,
    onConsole: (line) =>
      line.startsWith('error') || line.startsWith('warn') ? console.log(`[page] ${line}`) : undefined,
  });
  await chromium.page.setViewport({ width: WIDTHS[0], height: HEIGHT });
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

describe('the demo page runs the bundled model on a bundled image, and draws what the library computes', () => {
  let node: NodeRun;
  let views: Views;
  let grid: [number, number];
  const L = 3;

  it('loads offline and shows every view', async () => {
    const start = Date.now();
    await chromium!.page.goto(`${server!.origin}/index.html?model=${MODEL}&sample=${SAMPLE}`);
    await waitReady();
    const pageMs = Date.now() - start;
    const shown = await chromium!.page.evaluate(() => ({
      views: Array.from(document.querySelectorAll<HTMLCanvasElement>('canvas[data-view]')).map(
        (c) => c.dataset.view,
      ),
      banner: document.getElementById('banner')!.hidden ? '' : document.getElementById('banner')!.textContent,
      adapter: document.getElementById('adapter')!.textContent,
      timings: document.getElementById('timings')!.textContent,
      model: document.getElementById('model-info')!.textContent,
    }));
    console.log(`page ready in ${pageMs} ms; ${shown.adapter}; timings: ${shown.timings}`);
    expect(shown.views).toEqual([
      'cls-mean',
      'cls-head-0',
      'cls-head-1',
      'cls-head-2',
      'cls-head-3',
      'register-0',
      'register-1',
      'register-2',
      'register-3',
      'pca',
      'norms',
      'similarity',
    ]);
    expect(shown.model).toContain('Dinov2WithRegistersModel');
    if (/swiftshader|software/i.test(shown.adapter ?? '')) expect(shown.banner).toMatch(/software renderer/);
    expect(pageProblems()).toEqual([]);
    const note = await chromium!.page.$eval('#model-note', (el) =>
      (el as HTMLElement).hidden ? '' : el.textContent,
    );
    expect(note, 'the random model says its maps are noise').toMatch(
      /^tiny-dinov2-with-registers has random weights.*noise by design.*(facebook\/dinov2-with-registers-small|Open folder…)/,
    );
    await expectLayout('loading the bundled model');

    const t = Date.now();
    node = await runInNode(join(REPO_ROOT, 'weights', MODEL), join(DEMO, 'public/samples', `${SAMPLE}.png`));
    grid = [node.layout.gridH, node.layout.gridW];
    expect(grid).toEqual([16, 16]);
    const center = 8 * 16 + 8;
    views = nodeViews(node, L - 1, center);
    console.log(
      `Node forward and views in ${Date.now() - t} ms; PCA eigenvalues ${views.pca.first.eigenvalues.map((v) => v.toFixed(4)).join(', ')} (converged ${views.pca.first.converged})`,
    );
  });

  it('the layout check sees content wider than its panel, a sidebar under the views, a cut picker', async () => {
    const page = chromium!.page;
    await page.evaluate(() => {
      const wide = Object.assign(document.createElement('pre'), {
        id: 'too-wide',
        textContent: 'x'.repeat(400),
      });
      document.getElementById('kernels')!.after(wide);
      (document.getElementById('model-select') as HTMLSelectElement).style.width = '120px';
    });
    const problems = await layoutProblems();
    await page.evaluate(() => {
      document.getElementById('too-wide')!.remove();
      (document.getElementById('model-select') as HTMLSelectElement).style.width = '';
    });
    console.log(`the layout check on a page made wrong: ${problems.join('; ')}`);
    expect(
      problems.some((p) =>
        /^(pre#too-wide in section|section.* reaches past its column aside|section scrolls sideways)/.test(p),
      ),
    ).toBe(true);
    expect(problems.some((p) => /^select#model-select cuts "tiny-dinov2-with-registers/.test(p))).toBe(true);
    expect(await layoutProblems()).toEqual([]);
  });

  it('the cls attention canvases (mean and each head) hold the library’s attentions[last]', async () => {
    expect(
      await expectScalarCanvas('cls-mean', views.clsMean.values, views.clsMean.range, grid),
    ).toBeLessThanOrEqual(1);
    for (let h = 0; h < 4; h++)
      await expectScalarCanvas(`cls-head-${h}`, views.clsHeads[h].values, views.clsHeads[h].range, grid);
  });

  it('the register attention canvases hold rows 1..4 of attentions[last]', async () => {
    for (let r = 0; r < 4; r++)
      await expectScalarCanvas(`register-${r}`, views.registers[r].values, views.registers[r].range, grid);
  });

  it('the PCA canvas holds the first three components of the library’s patch features', async () => {
    console.log(`PCA canvas: max channel difference ${await expectRgbCanvas('pca', views.pca.rgba, grid)}`);
  });

  it('the norm canvas holds the patch-token norms of hidden_states[last]', async () => {
    await expectScalarCanvas('norms', views.norms.values, views.norms.range, grid);
  });

  it('clicking a patch moves the similarity map to that patch', async () => {
    const page = chromium!.page;
    expect((await canvasPixels('similarity'))!.patch).toBe(String(8 * 16 + 8));
    await expectScalarCanvas('similarity', views.similarity.values, views.similarity.range, grid);
    const [row, col] = [3, 12];
    const box = (await (await page.$('canvas[data-view="cls-mean"]'))!.boundingBox())!;
    const before = await runs();
    await page.mouse.click(box.x + ((col + 0.5) * box.width) / 16, box.y + ((row + 0.5) * box.height) / 16);
    await waitForRuns(before);
    const patch = row * 16 + col;
    expect((await canvasPixels('similarity'))!.patch).toBe(String(patch));
    const d = node.model.config.hidden_size;
    const sim = cosineSimilarities(
      patchFeatures(node.lastHidden, node.out.last_hidden_state.dims, node.layout),
      node.layout.patches,
      d,
      patch,
    );
    expect(sim[patch]).toBeCloseTo(1, 6);
    const clicked = computeViews(
      {
        layout: node.layout,
        attention: { data: node.attentions[L - 1], dims: node.out.attentions![L - 1].dims },
        lastHidden: { data: node.lastHidden, dims: node.out.last_hidden_state.dims },
        normHidden: { data: node.hidden[L], dims: node.out.hidden_states![L].dims },
      },
      { patch },
    ).similarity;
    expect(Array.from(clicked.values)).toEqual(Array.from(sim));
    await expectScalarCanvas('similarity', sim, clicked.range, grid);
  });

  it('the PCA foreground threshold redoes the PCA on the foreground, the rest black', async () => {
    const page = chromium!.page;
    const before = await runs();
    await page.click('#pca-fg');
    await waitForRuns(before);
    const features = patchFeatures(node.lastHidden, node.out.last_hidden_state.dims, node.layout);
    const pic = pcaPicture(features, node.layout.patches, node.model.config.hidden_size, 0.5);
    const fg = pic.foreground.reduce((a, b) => a + b, 0);
    console.log(`foreground at 0.5: ${fg} of ${node.layout.patches} patches`);
    expect(fg).toBeGreaterThan(0);
    await expectRgbCanvas('pca', pic.rgba, grid);
    const after = await runs();
    await page.click('#pca-fg');
    await waitForRuns(after);
  });

  it('another layer: the cls attention canvas follows attentions[0]', async () => {
    const page = chromium!.page;
    const before = await runs();
    await page.select('#layer', '0');
    await waitForRuns(before);
    const first = nodeViews(node, 0, 8 * 16 + 8);
    await expectScalarCanvas('cls-mean', first.clsMean.values, first.clsMean.range, grid);
    await expectLayout('choosing another layer');
    const again = await runs();
    await page.select('#layer', String(L - 1));
    await waitForRuns(again);
  });

  it('the twin without registers, side by side: its attention and norms are the library’s for tiny-dinov2', async () => {
    const page = chromium!.page;
    await page.click('#compare');
    await page.waitForFunction(
      () =>
        !!document.querySelector('canvas[data-view="compare-twin-norms"]') ||
        /could not/.test(document.getElementById('compare-status')!.textContent ?? ''),
      { timeout: 240_000 },
    );
    const twin = await runInNode(join(DEMO, 'models', TWIN), join(DEMO, 'public/samples', `${SAMPLE}.png`));
    expect(twin.layout.registers).toBe(0);
    const v = nodeViews(twin, L - 1, 8 * 16 + 8);
    await expectScalarCanvas('compare-twin-cls', v.clsMean.values, v.clsMean.range, grid);
    await expectScalarCanvas('compare-twin-norms', v.norms.values, v.norms.range, grid);
    await expectScalarCanvas('compare-current-cls', views.clsMean.values, views.clsMean.range, grid);
    await expectLayout('comparing with the twin');

    // The columns follow the selected layer: attentions[0] and the tokens after layer 1.
    const before = await runs();
    await page.select('#layer', '0');
    await waitForRuns(before);
    const normsAfter = (r: NodeRun, layer: number) =>
      computeViews(
        {
          layout: r.layout,
          attention: { data: r.attentions[layer], dims: r.out.attentions![layer].dims },
          lastHidden: { data: r.lastHidden, dims: r.out.last_hidden_state.dims },
          normHidden: { data: r.hidden[layer + 1], dims: r.out.hidden_states![layer + 1].dims },
        },
        { patch: 8 * 16 + 8 },
      );
    const twin0 = normsAfter(twin, 0);
    const current0 = normsAfter(node, 0);
    await expectScalarCanvas('compare-twin-cls', twin0.clsMean.values, twin0.clsMean.range, grid);
    await expectScalarCanvas('compare-twin-norms', twin0.norms.values, twin0.norms.range, grid);
    await expectScalarCanvas('compare-current-cls', current0.clsMean.values, current0.clsMean.range, grid);
    await expectScalarCanvas('compare-current-norms', current0.norms.values, current0.norms.range, grid);
    const again = await runs();
    await page.select('#layer', String(L - 1));
    await waitForRuns(again);
    twin.model.dispose();
    expect(pageProblems()).toEqual([]);
  });

  it('per-kernel times where the adapter offers timestamp-query, the table inside its panel', async () => {
    const page = chromium!.page;
    const state = await page.evaluate(() => ({
      disabled: (document.getElementById('profile') as HTMLButtonElement).disabled,
      note: document.getElementById('kernel-note')!.textContent,
    }));
    console.log(`per-kernel timing: ${state.note}`);
    if (state.disabled) {
      expect(state.note).toMatch(/no timestamp-query/);
      return;
    }
    await page.click('#profile');
    await page.waitForFunction(
      () =>
        !!document.querySelector('#kernels')?.getAttribute('data-dispatches') ||
        document.body.dataset.state === 'error',
      { timeout: 240_000 },
    );
    const table = await page.evaluate(() => ({
      dispatches: Number(document.getElementById('kernels')!.dataset.dispatches),
      rows: Array.from(document.querySelectorAll('#kernels tr'))
        .slice(1)
        .map((tr) => tr.textContent),
    }));
    console.log(`per-kernel times: ${table.rows.join(' | ')}`);
    expect(table.rows.length).toBeGreaterThan(0);
    expect(table.dispatches).toBeGreaterThan(0);
    expect(pageProblems()).toEqual([]);
    await expectLayout('per-kernel times');
    mkdirSync(OUTPUT, { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(OUTPUT, 'demo-kernels.png'), fullPage: true });
  });

  it('a hub model that cannot load (no network): the page says why and keeps the model shown, the picker too', async () => {
    const page = chromium!.page;
    const hub = 'facebook/dinov2-with-registers-small';
    const problemsBefore = chromium!.problems.length;
    await page.select('#model-select', `hub:${hub}`);
    await page.waitForFunction(
      () =>
        document.getElementById('model-status')!.classList.contains('error') ||
        document.body.dataset.state === 'error',
      { timeout: 60_000 },
    );
    const after = await page.evaluate(() => ({
      state: document.body.dataset.state,
      status: document.getElementById('model-status')!.textContent,
    }));
    console.log(`offline hub load: ${after.status}`);
    expect(after.state).toBe('ready');
    expect(after.status).toMatch(new RegExp(`^Could not load ${hub}: .*The maps still show ${MODEL}\\.`));
    expect(await picker()).toMatchObject({ value: `bundled:${MODEL}`, shown: MODEL });
    const note = await page.$eval('#model-note', (el) => el.textContent);
    expect(note, 'the hub unreachable, the note suggests a local folder').toMatch(
      /noise by design.*open a downloaded checkpoint folder \(config\.json \+ model\.safetensors\)/,
    );
    expect(note).not.toContain('pick facebook/');
    await expectLayout('a failing hub load');
    // The only problems: the page's requests to the hub, refused by this test's browser.
    const problems = chromium!.problems.splice(problemsBefore);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.filter((p) => !/huggingface\.co|ERR_BLOCKED_BY_CLIENT/.test(p))).toEqual([]);
    // The maps are still those of the bundled model.
    await expectScalarCanvas('cls-mean', views.clsMean.values, views.clsMean.range, grid);
  });

  it('another sample runs the model on it, and back', async () => {
    const page = chromium!.page;
    for (const sample of ['shapes', SAMPLE]) {
      const before = await runs();
      await page.click(`.sample[data-sample="${sample}"]`);
      await waitForRuns(before);
      expect(await page.$eval('#run-status', (el) => el.textContent)).toContain(`on ${sample}.png`);
      await expectLayout(`choosing the sample ${sample}`);
    }
    await expectScalarCanvas('cls-mean', views.clsMean.values, views.clsMean.range, grid);
    expect(pageProblems()).toEqual([]);
  });

  it('a screenshot for people to look at: test-output/demo.png', async () => {
    mkdirSync(OUTPUT, { recursive: true });
    await chromium!.page.evaluate(() => window.scrollTo(0, 0));
    await chromium!.page.screenshot({ path: join(OUTPUT, 'demo.png'), fullPage: true });
    expect(readFileSync(join(OUTPUT, 'demo.png')).length).toBeGreaterThan(10_000);
  });

  it('downloads last_hidden_state as .npy equal to the library’s', async () => {
    const page = chromium!.page;
    const downloads = mkdtempSync(join(tmpdir(), 'dinov2-downloads-'));
    const cdp = await page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
    await page.click('#download-npy');
    const deadline = Date.now() + 30_000;
    let files: string[] = [];
    while (
      Date.now() < deadline &&
      !(files = readdirSync(downloads).filter((f) => f.endsWith('.npy'))).length
    )
      await new Promise((ok) => setTimeout(ok, 100));
    expect(files).toEqual([`${MODEL}-${SAMPLE}-last_hidden_state.npy`]);
    const npy = fromNpy(new Uint8Array(readFileSync(join(downloads, files[0]))));
    expect(npy.shape).toEqual([1, 261, 64]);
    expectClose(npy.data, node.lastHidden, 'downloaded last_hidden_state');
    rmSync(downloads, { recursive: true, force: true });
  });

  it('a sharded local checkpoint (index and two shards, picked as files) shows the maps of the single file', async () => {
    const page = chromium!.page;
    const whole = SafetensorsFile.parse(
      new Uint8Array(readFileSync(join(REPO_ROOT, 'weights', MODEL, 'model.safetensors'))),
      MODEL,
    );
    const dir = mkdtempSync(join(tmpdir(), 'dinov2-sharded-'));
    const half = Math.ceil(whole.names.length / 2);
    const weightMap: Record<string, string> = {};
    const files = [join(dir, 'config.json'), join(dir, 'model.safetensors.index.json')];
    for (const [i, names] of [whole.names.slice(0, half), whole.names.slice(half)].entries()) {
      const shard = `model-0000${i + 1}-of-00002.safetensors`;
      const tensors = Object.fromEntries(
        names.map((n) => [
          n,
          { dtype: whole.info(n).dtype as 'F32', shape: whole.info(n).shape, data: whole.bytes(n) },
        ]),
      );
      writeFileSync(join(dir, shard), writeSafetensors(tensors, { format: 'pt' }));
      for (const n of names) weightMap[n] = shard;
      files.push(join(dir, shard));
    }
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: {}, weight_map: weightMap }),
    );
    writeFileSync(join(dir, 'config.json'), readFileSync(join(REPO_ROOT, 'weights', MODEL, 'config.json')));
    const before = await runs();
    await (await page.$('input#model-files'))!.uploadFile(...files);
    await waitForRuns(before);
    await waitReady();
    expect(await picker()).toMatchObject({
      value: 'local',
      text: 'picked files (local)',
      shown: 'picked files',
    });
    expect(
      await page.$eval('#model-note', (el) => (el as HTMLElement).hidden),
      'no random-weights note',
    ).toBe(true);
    await expectScalarCanvas('cls-mean', views.clsMean.values, views.clsMean.range, grid);
    await expectScalarCanvas('norms', views.norms.values, views.norms.range, grid);
    await expectLayout('loading a sharded local folder');
    rmSync(dir, { recursive: true, force: true });
    expect(pageProblems()).toEqual([]);
  });

  it('a local checkpoint folder with a classifier: loaded from the files, top-5 as the library ranks them', async () => {
    const page = chromium!.page;
    const fixture = join(REPO_ROOT, 'test/fixtures/generated/classifier-7');
    // Patch size 4: a 32x32 crop keeps the grid (8x8) small for SwiftShader.
    const dir = mkdtempSync(join(tmpdir(), 'dinov2-local-'));
    const preprocessor = { size: { shortest_edge: 32 }, crop_size: { height: 32, width: 32 } };
    for (const f of ['config.json', 'model.safetensors'])
      writeFileSync(join(dir, f), readFileSync(join(fixture, f)));
    writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify(preprocessor));
    const before = await runs();
    const input = (await page.$('input#model-files'))!;
    await input.uploadFile(
      join(dir, 'config.json'),
      join(dir, 'model.safetensors'),
      join(dir, 'preprocessor_config.json'),
    );
    await waitForRuns(before);
    await waitReady();
    const page5 = await page.evaluate(() =>
      Array.from(document.querySelectorAll('#top5 li')).map((li) => ({
        index: Number((li as HTMLElement).dataset.index),
        label: li.querySelector('.label')!.textContent,
        score: li.querySelector('.score')!.textContent,
      })),
    );
    const local = await runInNode(dir, join(DEMO, 'public/samples', `${SAMPLE}.png`), preprocessor);
    expect(local.model).toBeInstanceOf(Dinov2WithRegistersForImageClassification);
    const [top] = await (local.model as Dinov2WithRegistersForImageClassification).topK(local.out.logits!, 5);
    console.log(`top-5 in the page: ${page5.map((t) => `${t.label} ${t.score}`).join(', ')}`);
    expect(page5.map((t) => t.index)).toEqual(top.map((t) => t.index));
    expect(page5.map((t) => t.label)).toEqual(top.map((t) => t.label));
    expect(page5.map((t) => t.score)).toEqual(top.map((t) => `${(100 * t.score).toFixed(1)}%`));
    const v = nodeViews(local, 1, 4 * 8 + 4);
    await expectScalarCanvas('cls-mean', v.clsMean.values, v.clsMean.range, [8, 8]);
    local.model.dispose();
    rmSync(dir, { recursive: true, force: true });
    expect(pageProblems()).toEqual([]);
  });
});

describe('the webcam', () => {
  it('re-runs on live frames until stopped (Chromium’s synthetic camera)', async () => {
    const page = chromium!.page;
    const before = await runs();
    await page.click('#webcam');
    await waitForRuns(before);
    const second = await runs();
    await waitForRuns(second); // a second frame: the loop goes on by itself
    const live = await page.evaluate(() => ({
      status: document.getElementById('run-status')!.textContent,
      timings: document.getElementById('timings')!.textContent,
      button: document.getElementById('webcam')!.textContent,
    }));
    console.log(`webcam: ${live.status}; ${live.timings}`);
    expect(live.status).toContain('on webcam');
    expect(live.button).toBe('Stop webcam');
    expect(live.timings).toMatch(/webcam.*frames\/s|webcam…/);
    await page.click('#webcam');
    await page.waitForFunction(
      () =>
        document.getElementById('webcam')!.textContent === 'Webcam' &&
        document.body.dataset.state === 'ready',
      { timeout: 60_000 },
    );
    const stopped = await runs();
    await new Promise((ok) => setTimeout(ok, 1500));
    expect(await runs(), 'no more frames once stopped').toBeLessThanOrEqual(stopped + 1);
    expect(pageProblems()).toEqual([]);
  });
});

describe('the bundled DINOv3 model (patch 16, squashed to 224 x 224, no crop): the views are the library’s', () => {
  const V3 = 'tiny-dinov3';
  const L = 3;
  const HUB_V3 = 'facebook/dinov3-vits16-pretrain-lvd1689m';
  let node: NodeRun;
  let views: Views;
  const grid: [number, number] = [14, 14];
  const center = 7 * 14 + 7;

  it('loads from the picker: every view, DINOv3’s facts and input sizes, no twin to compare with', async () => {
    const page = chromium!.page;
    if (!(await page.evaluate(() => document.body?.dataset.state === 'ready'))) {
      // Run alone (vitest -t): the page as the first test opens it.
      await page.goto(`${server!.origin}/index.html?model=${MODEL}&sample=${SAMPLE}`);
      await waitReady();
    }
    // The sample again (the webcam's last frame may be shown), then the model.
    const sampled = await runs();
    await page.click(`.sample[data-sample="${SAMPLE}"]`);
    await waitForRuns(sampled);
    const before = await runs();
    const start = Date.now();
    await page.select('#model-select', `bundled:${V3}`);
    await waitForRuns(before);
    await waitReady();
    const shown = await page.evaluate(() => ({
      views: Array.from(document.querySelectorAll<HTMLCanvasElement>('canvas[data-view]')).map(
        (c) => c.dataset.view,
      ),
      model: document.getElementById('model-info')!.textContent,
      run: document.getElementById('run-status')!.textContent,
      sizes: Array.from((document.getElementById('resolution') as HTMLSelectElement).options).map((o) => [
        o.value,
        o.text,
      ]),
      finalNorm: (document.querySelector('#norm-layer option[value="final"]') as HTMLOptionElement).text,
      compare: {
        disabled: (document.getElementById('compare') as HTMLButtonElement).disabled,
        text: document.getElementById('compare')!.textContent,
        note: document.getElementById('compare-note')!.hidden
          ? ''
          : document.getElementById('compare-note')!.textContent,
      },
      note: document.getElementById('model-note')!.hidden
        ? ''
        : document.getElementById('model-note')!.textContent,
      timings: document.getElementById('timings')!.textContent,
    }));
    console.log(`DINOv3 bundled model shown in ${Date.now() - start} ms; timings: ${shown.timings}`);
    expect(shown.views).toEqual([
      'cls-mean',
      ...[0, 1, 2, 3].map((h) => `cls-head-${h}`),
      ...[0, 1, 2, 3].map((r) => `register-${r}`),
      'pca',
      'norms',
      'similarity',
    ]);
    expect(shown.run).toContain('201 tokens (1 cls + 4 registers + 14×14 patches)');
    for (const fact of [
      'DINOv3ViTModel',
      'RoPE, θ = 100',
      'intermediate size256',
      'gelu, not gated',
      'DINOv3ViTImageProcessor',
    ])
      expect(shown.model).toContain(fact);
    expect(shown.sizes).toEqual([
      ['processor', 'processor (224 × 224, no crop)'],
      ['448', '448 × 448'],
      ['512', '512 × 512'],
    ]);
    expect(shown.finalNorm).toBe('final norm');
    expect(shown.compare).toMatchObject({ disabled: true, text: 'Compare (no twin for DINOv3)' });
    expect(shown.compare.note).toMatch(/register tokens only: no DINOv3 model without registers exists/);
    expect(shown.note).toMatch(
      /^tiny-dinov3 has random weights.*noise by design.*(facebook\/dinov3-vits16-pretrain-lvd1689m|Open folder…)/,
    );
    await expectLayout('loading the bundled DINOv3 model');
    expect(pageProblems()).toEqual([]);

    node = await runInNode(join(DEMO, 'models', V3), join(DEMO, 'public/samples', `${SAMPLE}.png`));
    expect([node.layout.gridH, node.layout.gridW, node.layout.registers]).toEqual([...grid, 4]);
    views = nodeViews(node, L - 1, center);
  });

  it('the attention, register, PCA, norm and similarity canvases hold the library’s outputs', async () => {
    await expectScalarCanvas('cls-mean', views.clsMean.values, views.clsMean.range, grid);
    for (let h = 0; h < 4; h++)
      await expectScalarCanvas(`cls-head-${h}`, views.clsHeads[h].values, views.clsHeads[h].range, grid);
    for (let r = 0; r < 4; r++)
      await expectScalarCanvas(`register-${r}`, views.registers[r].values, views.registers[r].range, grid);
    console.log(
      `DINOv3 PCA canvas: max channel difference ${await expectRgbCanvas('pca', views.pca.rgba, grid)}`,
    );
    await expectScalarCanvas('norms', views.norms.values, views.norms.range, grid);
    expect((await canvasPixels('similarity'))!.patch).toBe(String(center));
    await expectScalarCanvas('similarity', views.similarity.values, views.similarity.range, grid);
  });

  it('under the maps: the image as the model saw it, squashed to 224 x 224 (not cropped)', async () => {
    const shown = await chromium!.page.evaluate(async () => {
      const frame = document.querySelector('canvas[data-view="cls-mean"]')!.parentElement!;
      const img = new Image();
      img.src = frame.style.backgroundImage.replace(/^url\("?|"?\)$/g, '');
      await img.decode();
      const c = Object.assign(document.createElement('canvas'), {
        width: img.naturalWidth,
        height: img.naturalHeight,
      });
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const box = frame.getBoundingClientRect();
      return {
        width: c.width,
        height: c.height,
        rgba: Array.from(ctx.getImageData(0, 0, c.width, c.height).data),
        aspect: box.width / box.height,
      };
    });
    expect([shown.width, shown.height]).toEqual([224, 224]);
    expect(shown.aspect).toBeCloseTo(1, 2);
    let worst = 0;
    for (let i = 0; i < 224 * 224; i++)
      for (let c = 0; c < 3; c++)
        worst = Math.max(worst, Math.abs(shown.rgba[i * 4 + c] - node.input.data[i * 3 + c]));
    expect(worst, 'the page’s picture against DINOv3’s processor in Node').toBeLessThanOrEqual(1);
  });

  it('another layer and a clicked patch: attentions[0] and the similarity to that patch', async () => {
    const page = chromium!.page;
    const before = await runs();
    await page.select('#layer', '0');
    await waitForRuns(before);
    const first = nodeViews(node, 0, center);
    await expectScalarCanvas('cls-mean', first.clsMean.values, first.clsMean.range, grid);
    await expectScalarCanvas('register-0', first.registers[0].values, first.registers[0].range, grid);
    const [row, col] = [3, 10];
    const box = (await (await page.$('canvas[data-view="cls-mean"]'))!.boundingBox())!;
    const again = await runs();
    await page.mouse.click(box.x + ((col + 0.5) * box.width) / 14, box.y + ((row + 0.5) * box.height) / 14);
    await waitForRuns(again);
    const patch = row * 14 + col;
    expect((await canvasPixels('similarity'))!.patch).toBe(String(patch));
    const clicked = nodeViews(node, 0, patch).similarity;
    await expectScalarCanvas('similarity', clicked.values, clicked.range, grid);
    await expectLayout('another layer of the DINOv3 model');
    const back = await runs();
    await page.select('#layer', String(L - 1));
    await waitForRuns(back);
    expect(pageProblems()).toEqual([]);
  });

  it('a DINOv3 hub model with no network: said under the picker, the bundled DINOv3 model stays shown', async () => {
    const page = chromium!.page;
    const problemsBefore = chromium!.problems.length;
    const start = Date.now();
    await page.select('#model-select', `hub:${HUB_V3}`);
    await page.waitForFunction(
      () =>
        document.getElementById('model-status')!.classList.contains('error') ||
        document.body.dataset.state === 'error',
      { timeout: 60_000 },
    );
    const status = await page.$eval('#model-status', (el) => el.textContent);
    console.log(`offline DINOv3 hub load (${Date.now() - start} ms): ${status}`);
    expect(await page.evaluate(() => document.body.dataset.state)).toBe('ready');
    expect(status).toMatch(new RegExp(`^Could not load ${HUB_V3}: .*The maps still show ${V3}\\.`));
    expect(await picker()).toMatchObject({ value: `bundled:${V3}`, shown: V3 });
    await expectLayout('a failing DINOv3 hub load');
    const problems = chromium!.problems.splice(problemsBefore);
    expect(problems.filter((p) => !/huggingface\.co|ERR_BLOCKED_BY_CLIENT/.test(p))).toEqual([]);
    await expectScalarCanvas('cls-mean', views.clsMean.values, views.clsMean.range, grid);
  });

  it('gated: HTTP 401 without a token and 403 with one are said under the picker; the token goes to the hub', async () => {
    const page = chromium!.page;
    const gated = 'facebook/dinov3-vitb16-pretrain-lvd1689m';
    // The hub, as it answers a gated repository: 401 to no token, 403 to a token without access.
    await page.evaluate(() => {
      const w = window as unknown as { __fetch: typeof fetch; __hub: { url: string; auth: string | null }[] };
      w.__fetch = window.fetch;
      w.__hub = [];
      window.fetch = async (input, init) => {
        const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        if (!url.startsWith('https://huggingface.co/')) return w.__fetch(input, init);
        const auth = new Headers(init?.headers).get('authorization');
        w.__hub.push({ url, auth });
        return new Response(null, { status: auth ? 403 : 401, headers: { 'x-error-code': 'GatedRepo' } });
      };
    });
    const attempt = async (status: number) => {
      await page.select('#model-select', `hub:${gated}`);
      await page.waitForFunction(
        (s) =>
          (document.getElementById('model-status')!.classList.contains('error') &&
            document.getElementById('model-status')!.textContent!.includes(`HTTP ${s}`)) ||
          document.body.dataset.state === 'error',
        { timeout: 60_000 },
        status,
      );
      const said = await page.$eval('#model-status', (el) => el.textContent!);
      console.log(`gated, HTTP ${status}: ${said}`);
      expect(await picker()).toMatchObject({ value: `bundled:${V3}`, shown: V3 });
      return said;
    };
    try {
      expect(await page.$eval('#hf-token', (el) => (el as HTMLInputElement).value)).toBe('');
      const without = await attempt(401);
      expect(without).toMatch(
        new RegExp(
          `^Could not load ${gated}: it is gated on the Hugging Face hub: a token with access is needed \\(HTTP 401\\)\\..*Hugging Face token.*The maps still show ${V3}\\.$`,
        ),
      );
      await page.type('#hf-token', 'hf_demo_test_token');
      await page.keyboard.press('Enter'); // the field's form is not submitted (no reload)
      const withToken = await attempt(403);
      expect(withToken).toMatch(
        new RegExp(
          `^Could not load ${gated}: it is gated on the Hugging Face hub, and the token given has no access to it \\(HTTP 403\\)\\..*The maps still show ${V3}\\.$`,
        ),
      );
      const sent = await page.evaluate(
        () => (window as unknown as { __hub: { url: string; auth: string | null }[] }).__hub,
      );
      expect(sent.length).toBeGreaterThanOrEqual(2);
      expect(sent.every((r) => r.url.startsWith(`https://huggingface.co/${gated}/resolve/main/`))).toBe(true);
      const [first, ...rest] = sent;
      expect(first.auth, 'no token: no Authorization').toBeNull();
      expect(rest.at(-1)!.auth).toBe('Bearer hf_demo_test_token');
      expect(
        await page.evaluate(() => sessionStorage.getItem('dinov2-webgpu-demo:hf-token')),
        'kept in this tab’s sessionStorage',
      ).toBe('hf_demo_test_token');
      expect(await page.evaluate(() => localStorage.length), 'nothing in localStorage').toBe(0);
      await expectLayout('a gated DINOv3 hub model refused');
    } finally {
      await page.evaluate(() => {
        window.fetch = (window as unknown as { __fetch: typeof fetch }).__fetch;
        sessionStorage.clear();
      });
      await page.$eval('#hf-token', (el) => {
        (el as HTMLInputElement).value = '';
        el.dispatchEvent(new Event('input'));
      });
    }
    await expectScalarCanvas('cls-mean', views.clsMean.values, views.clsMean.range, grid);
    expect(pageProblems()).toEqual([]);
  });
});

describe('the demo says so clearly when WebGPU is missing', () => {
  const cases: [string, string, RegExp][] = [
    ['no navigator.gpu', 'delete Navigator.prototype.gpu;', /^WebGPU is not available in this browser/],
    [
      'navigator.gpu without an adapter',
      'navigator.gpu.requestAdapter = async () => null;',
      /^No WebGPU adapter\./,
    ],
  ];
  for (const [name, script, message] of cases) {
    it(name, async () => {
      const page = await chromium!.browser.newPage();
      try {
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        await page.evaluateOnNewDocument(script);
        await page.goto(`${server!.origin}/index.html`);
        await page.waitForFunction(() => document.body.dataset.state === 'error', { timeout: 60_000 });
        const banner = await page.evaluate(() =>
          document.getElementById('banner')!.hidden ? '' : document.getElementById('banner')!.textContent,
        );
        expect(banner).toMatch(message);
        expect(banner!.split('No WebGPU adapter').length - 1, 'said at most once').toBeLessThanOrEqual(1);
        expect(banner, 'the Linux hint').toContain('On Linux, Chrome needs --enable-unsafe-webgpu');
        expect(errors).toEqual([]);
      } finally {
        await page.close();
      }
    });
  }
});

describe('`npm start`: the vite dev server serves the demo and the bundled models', () => {
  let dev: ViteDevServer | undefined;
  afterAll(async () => dev?.close());

  it('serves the page, its module, the model index and the tiny checkpoint', async () => {
    dev = await createServer({
      configFile: join(DEMO, 'vite.config.ts'),
      logLevel: 'warn',
      server: { port: 0, host: '127.0.0.1' },
    });
    await dev.listen();
    const origin = dev.resolvedUrls!.local[0].replace(/\/$/, '');
    const get = async (path: string) => {
      const res = await fetch(`${origin}${path}`);
      return { status: res.status, body: new Uint8Array(await res.arrayBuffer()) };
    };
    expect(new TextDecoder().decode((await get('/')).body)).toContain('DINOv2');
    expect((await get('/src/main.ts')).status).toBe(200);
    const index = JSON.parse(new TextDecoder().decode((await get('/models/index.json')).body)) as {
      models: { id: string }[];
    };
    expect(index.models.map((m) => m.id)).toEqual([MODEL, TWIN, 'tiny-dinov3']);
    const weights = await get(`/models/${MODEL}/model.safetensors`);
    expect(weights.status).toBe(200);
    expect((await get(`/models/${MODEL}/nothing.bin`)).status).toBe(404);
    // Buffer.compare: an element-wise toEqual of 800 kB takes seconds, past the server's keep-alive.
    expect(
      Buffer.compare(weights.body, readFileSync(join(REPO_ROOT, 'weights', MODEL, 'model.safetensors'))),
    ).toBe(0);
  });
});
