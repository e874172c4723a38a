// Every WGSL kernel family, in one manifest. activations.wgsl holds functions that linear.wgsl
// calls; it is appended to that module's source (WGSL has no include).
import activations from '../../shaders/activations.wgsl?raw';
import attention from '../../shaders/attention.wgsl?raw';
import embeddings from '../../shaders/embeddings.wgsl?raw';
import heads from '../../shaders/heads.wgsl?raw';
import layernorm from '../../shaders/layernorm.wgsl?raw';
import linear from '../../shaders/linear.wgsl?raw';

export const SHADERS = {
  attention,
  embeddings,
  heads,
  layernorm,
  linear: `${linear}\n${activations}`,
} as const;

export type ShaderName = keyof typeof SHADERS;
