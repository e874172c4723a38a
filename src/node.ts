// The Node entry of the package (export condition "node"): the browser entry's API, with the Node
// platform installed first (Dawn's WebGPU, local folders and the huggingface_hub cache, sharp).
import './platform_node.js';

export * from './index.js';
