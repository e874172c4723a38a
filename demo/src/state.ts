// Everything the page holds between events, in one object: the device, the model whose maps are
// shown, the image, the last forward's outputs, the comparison, the webcam. Modules receive it;
// none keeps state of its own.
import type {
  AllOutputs,
  AnyDinov2Model,
  DeviceInfo,
  GpuTensor,
  ImageProcessor,
  RgbImage,
} from 'dinov2-webgpu';
import type { CatalogEntry } from './catalog.js';
import type { ForwardTimer } from './gpu_timer.js';
import { Scheduler } from './scheduler.js';
import type { TokenLayout } from './views/index.js';

/** A model on the GPU, and what the page shows about it. */
export interface Current {
  entry: CatalogEntry;
  model: AnyDinov2Model;
  /** What the page calls it: the hub id, the bundled id, or the local folder's name. */
  name: string;
  /**
   * Its image processor: the one its preprocessor_config.json names, else its family's
   * (BitImageProcessor for DINOv2: resize and center crop; DINOv3ViTImageProcessor: resize to
   * 224 x 224, no crop), as the library's processorFor picks it.
   */
  processor: ImageProcessor;
  /** Bytes of the safetensors files read, when known. */
  checkpointBytes?: number;
  loadMs: number;
}

/** The image the page runs on. */
export interface Source {
  name: string;
  rgb: RgbImage;
  decodeMs: number;
}

/** One forward's outputs, read back lazily (a layer's attentions only when it is shown). */
export interface Run {
  model: AnyDinov2Model;
  modelName: string;
  source: Source;
  /**
   * The model's input as an image, the picture under the maps: pixel_values turned back into pixels
   * (DINOv2: resized and center-cropped; DINOv3: squashed to 224 x 224), cut to the part the patch
   * grid covers.
   */
  cropped: RgbImage;
  croppedUrl: string;
  out: AllOutputs;
  layout: TokenLayout;
  reads: Map<GpuTensor, Promise<Float32Array>>;
  timings: Timings;
}

export interface Timings {
  decode?: number;
  preprocess?: number;
  forward?: number;
  forwardGpu?: number;
  readback?: number;
  views?: number;
  dispatches?: number;
  /** The model's first forward (its pipelines compiled then). */
  firstRun?: boolean;
}

export interface DemoState {
  readonly scheduler: Scheduler;
  device?: DeviceInfo;
  timer?: ForwardTimer;
  /** The model whose maps are shown (or are about to be, once its forward is done). */
  current?: Current;
  /** Counts model requests: a load that finishes after a newer request is dropped. */
  modelRequests: number;
  /** The hub could not be reached since the browser last went online: the page suggests local folders. */
  hubUnreachable: boolean;
  /**
   * The Hugging Face token typed on the page, for gated hub models (DINOv3): passed as
   * from_pretrained's `token` for hub checkpoints only; kept in memory and this tab's sessionStorage.
   */
  token: string;
  source?: Source;
  run?: Run;
  compare: { on: boolean; twin?: Current; run?: Run };
  /** The patch clicked for the similarity map. */
  patch?: number;
  /** Finished drawings (body[data-runs]). */
  draws: number;
  /** Models that have run once: their pipelines are compiled. */
  readonly ranBefore: WeakSet<AnyDinov2Model>;
  webcam?: { stream: MediaStream; fps?: number };
}

export function createState(): DemoState {
  return {
    scheduler: new Scheduler(),
    modelRequests: 0,
    hubUnreachable: false,
    token: '',
    compare: { on: false },
    draws: 0,
    ranBefore: new WeakSet(),
  };
}

/** The patch the similarity map is about: the clicked one while it is on the grid, else the centre. */
export function shownPatch(clicked: number | undefined, layout: TokenLayout): number {
  if (clicked !== undefined && clicked >= 0 && clicked < layout.patches) return clicked;
  return Math.floor(layout.gridH / 2) * layout.gridW + Math.floor(layout.gridW / 2);
}

/** The layer to show of a model with `layers` layers when `selected` is picked (a twin may have fewer). */
export function shownLayer(selected: number, layers: number): number {
  return Math.max(0, Math.min(selected, layers - 1));
}
