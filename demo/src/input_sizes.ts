// The "Input size" choices for a model: its processor as it is, then two larger squares of whole
// patches (DINOv2, patch 14: 448 and 518; DINOv3, patch 16: 448 and 512). Pure, tested in Node.

/** What a processor does to an image's size. */
export type ProcessorShape =
  /** DINOv2's BitImageProcessor: resize the shortest edge, then a center crop of this size. */
  | { kind: 'crop'; height: number; width: number }
  /** DINOv3ViTImageProcessor: resize straight to this size (aspect ratio not kept), no crop. */
  | { kind: 'resize'; height: number; width: number }
  /** Neither: the image's own size. */
  | { kind: 'none' };

export interface SizeChoice {
  /** The <option> value: 'processor', or the side of the square in pixels. */
  value: string;
  label: string;
}

const side = (h: number, w: number) => (h === w ? `${h}` : `${h} × ${w}`);

export function processorLabel(shape: ProcessorShape): string {
  if (shape.kind === 'crop') return `processor (${side(shape.height, shape.width)} crop)`;
  if (shape.kind === 'resize') return `processor (${shape.height} × ${shape.width}, no crop)`;
  return 'processor (image size)';
}

/** The choices for a model with patches of `patch` pixels whose processor does `shape`. */
export function inputSizeChoices(shape: ProcessorShape, patch: number): SizeChoice[] {
  if (!(Number.isInteger(patch) && patch > 0)) throw new Error(`patch ${patch} is not a positive integer`);
  const squares = [...new Set([448, 518].map((n) => Math.max(1, Math.floor(n / patch)) * patch))];
  return [
    { value: 'processor', label: processorLabel(shape) },
    ...squares.map((n) => ({ value: String(n), label: `${n} × ${n}` })),
  ];
}
