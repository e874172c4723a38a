// Errors of image loading and preprocessing. Each names the image it is about (`source`: the
// file path or URL as the caller gave it, or the name given for bytes, a Blob or an element).

export class ImageError extends Error {
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = 'ImageError';
  }
}

// Pillow's DecompressionBombError: the header declares more pixels than the limit allows.
export class ImageLimitError extends ImageError {
  constructor(
    source: string,
    readonly pixels: number,
    readonly limit: number,
    detail: string,
  ) {
    super(source, detail);
    this.name = 'ImageLimitError';
  }
}
