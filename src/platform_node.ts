// The Node platform (see src/platform.ts), installed when this module is first imported: by the
// Node entry (src/node.ts), the command line, and the tests' setup.
import { fileURLToPath } from 'node:url';
import { nodeNavigatorGpu } from './gpu/device_node.js';
import { type LoadImageNodeOptions, loadImageNode } from './image/decode_node.js';
import { parseRepoId } from './io/hub.js';
import { localFolder, NodeHubRepo } from './io/hub_node.js';
import { installNodePlatform, type NodeImageSource, type NodePlatform } from './platform.js';

async function loadImage(input: NodeImageSource, options: LoadImageNodeOptions) {
  let source: string | Uint8Array;
  if (input instanceof Uint8Array) source = input;
  else if (input instanceof Blob) source = new Uint8Array(await input.arrayBuffer());
  else {
    const text = input instanceof URL ? input.href : input;
    if (/^file:/i.test(text)) source = fileURLToPath(text);
    else if (/^data:/i.test(text)) source = new Uint8Array(await (await fetch(text)).arrayBuffer());
    else source = text; // a path, or an http(s) URL that loadImageNode fetches
  }
  return loadImageNode(source, options);
}

export const NODE_PLATFORM: NodePlatform = {
  navigatorGpu: nodeNavigatorGpu,
  async checkpointFiles(source, options) {
    const local = await localFolder(source, options.chunkBytes);
    if (local) return local;
    const { repo, revision } = parseRepoId(source);
    return new NodeHubRepo(repo, { ...options, revision: revision ?? options.revision });
  },
  loadImage,
};

installNodePlatform(NODE_PLATFORM);
