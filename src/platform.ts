// What only Node can do, as an object the Node entry (src/node.ts) installs: Dawn's WebGPU, local
// folders and the huggingface_hub cache, and image decoding with sharp. The browser entry
// (src/index.ts) never imports Node code, so a browser bundle holds no `node:*`, `webgpu` or
// `sharp` import; without an installed platform the library does what a browser does.
import type { LoadImageNodeOptions } from './image/decode_node.js';
import type { RgbImage } from './image/rgb_image.js';
import type { CheckpointFiles, ResolvedHubOptions } from './io/hub_common.js';

/** The image kinds Node decodes: a file path or http(s) URL string, a file: or http(s) URL, encoded bytes. */
export type NodeImageSource = string | URL | Uint8Array | Blob;

export interface NodePlatform {
  /** Dawn's navigator.gpu (SwiftShader when the machine has no GPU adapter). */
  navigatorGpu(): Promise<GPU>;
  /** A local folder, else a hub repository cached as huggingface_hub caches it. */
  checkpointFiles(source: string, options: ResolvedHubOptions): Promise<CheckpointFiles>;
  /** Decodes an image as PIL's open + convert('RGB') does; EXIF orientation applied when options.autoOrient. */
  loadImage(input: NodeImageSource, options: LoadImageNodeOptions): Promise<RgbImage>;
}

let installed: NodePlatform | undefined;

export function installNodePlatform(platform: NodePlatform): void {
  installed = platform;
}

/** The Node platform, or undefined in a browser (or a bundle made for one). */
export function nodePlatform(): NodePlatform | undefined {
  return installed;
}

/** Whether this runs in Node (else a browser or a worker). */
export function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node;
}
