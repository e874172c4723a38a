// One forward of a model on an image, with everything the page reads back later and the times it
// took. The model's own preprocessing (the processor its preprocessor_config.json names, else its
// family's: DINOv2's resize and center crop, DINOv3's resize to 224 x 224 without a crop), or that
// processor at the input size chosen on the page.
import {
  BitImageProcessor,
  DINOv3ViTImageProcessor,
  disposeAll,
  type GpuTensor,
  type ImageProcessor,
  type RgbImage,
} from 'dinov2-webgpu';
import { ui } from './dom.js';
import type { ProcessorShape } from './input_sizes.js';
import type { Current, DemoState, Run, Source } from './state.js';
import { coveredPart, pixelsToRgb } from './views/crop.js';
import { layoutFor } from './views/index.js';

/** What `p` does to an image's size (for the input-size picker). */
export function processorShape(p: ImageProcessor): ProcessorShape {
  if (p instanceof DINOv3ViTImageProcessor)
    return p.config.do_resize ? { kind: 'resize', ...p.config.size } : { kind: 'none' };
  const bit = p.config;
  if (bit.do_center_crop) return { kind: 'crop', ...bit.crop_size };
  if (bit.do_resize && bit.size.height && bit.size.width)
    return { kind: 'resize', height: bit.size.height, width: bit.size.width };
  return { kind: 'none' };
}

/** `p` at an n x n input: DINOv2's resizes the shortest edge to n and crops n x n, DINOv3's resizes to n x n. */
function atSize(p: ImageProcessor, n: number): ImageProcessor {
  if (p instanceof DINOv3ViTImageProcessor)
    return new DINOv3ViTImageProcessor({ ...p.config, do_resize: true, size: { height: n, width: n } });
  return new BitImageProcessor({
    ...p.config,
    size: { shortest_edge: n },
    crop_size: { height: n, width: n },
  });
}

/** The processor of `c` at the input size chosen on the page. */
function processorFor(c: Current): ImageProcessor {
  const res = ui.resolution.value;
  return res === 'processor' ? c.processor : atSize(c.processor, Number(res));
}

function imageUrl(img: RgbImage): string {
  const canvas = document.createElement('canvas');
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d')!;
  const data = ctx.createImageData(img.width, img.height);
  for (let i = 0; i < img.width * img.height; i++) {
    data.data.set(img.data.subarray(i * 3, i * 3 + 3), i * 4);
    data.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(data, 0, 0);
  return canvas.toDataURL();
}

/** Runs `c` on `src` with attentions and hidden states (the caller disposes the run). */
export async function forwardOne(state: DemoState, c: Current, src: Source): Promise<Run> {
  const device = state.device!;
  const t0 = performance.now();
  const processor = processorFor(c);
  const { pixel_values, dims } = processor.preprocess(src.rgb);
  const t1 = performance.now();
  const model = c.model;
  const submit = () =>
    model.forwardAll({ data: pixel_values, dims }, { output_attentions: true, output_hidden_states: true });
  const timed = state.timer ? await state.timer.time(submit) : { result: await submit(), gpuMs: undefined };
  await device.device.queue.onSubmittedWorkDone();
  const t2 = performance.now();
  const firstRun = !state.ranBefore.has(model);
  state.ranBefore.add(model);
  const layout = layoutFor(model.config, dims[2], dims[3]);
  const p = model.config.patch_size;
  const cropped = coveredPart(
    pixelsToRgb(pixel_values, dims, processor.config),
    layout.gridW * p,
    layout.gridH * p,
  );
  return {
    model,
    modelName: c.name,
    source: src,
    cropped,
    croppedUrl: imageUrl(cropped),
    out: timed.result,
    layout,
    reads: new Map(),
    timings: {
      decode: src.decodeMs,
      preprocess: t1 - t0,
      forward: t2 - t1,
      forwardGpu: timed.gpuMs ? await timed.gpuMs() : undefined,
      dispatches: model.lastStats.dispatches,
      firstRun,
    },
  };
}

/** A tensor of `r` read back once, however many views ask for it. */
export function read(r: Run, t: GpuTensor): Promise<Float32Array> {
  let p = r.reads.get(t);
  if (!p) {
    p = t.read();
    r.reads.set(t, p);
  }
  return p;
}

export function disposeRun(r: Run | undefined): void {
  if (r) disposeAll(r.out as unknown as Record<string, GpuTensor | GpuTensor[] | undefined>);
}
