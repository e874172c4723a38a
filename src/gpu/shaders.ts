// Every WGSL kernel family, in one manifest. WGSL has no include: shape.wgsl (the per-call sizes
// uniform) is appended to the modules that read it, activations.wgsl to linear.wgsl.
import activations from '../../shaders/activations.wgsl?raw';
import attention from '../../shaders/attention.wgsl?raw';
import embeddings from '../../shaders/embeddings.wgsl?raw';
import heads from '../../shaders/heads.wgsl?raw';
import layernorm from '../../shaders/layernorm.wgsl?raw';
import linear from '../../shaders/linear.wgsl?raw';
import pack from '../../shaders/pack.wgsl?raw';
import shape from '../../shaders/shape.wgsl?raw';

export const SHADERS = {
  attention: `${attention}\n${shape}`,
  embeddings: `${embeddings}\n${shape}`,
  heads: `${heads}\n${shape}`,
  layernorm: `${layernorm}\n${shape}`,
  linear: `${linear}\n${activations}\n${shape}`,
  pack,
} as const;

export type ShaderName = keyof typeof SHADERS;
