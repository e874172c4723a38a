// Compute kernels from WGSL source: bind group layouts come from reflecting the shader (wgsl_reflect),
// so TypeScript names bindings by their WGSL variable names and never repeats a binding index.
import { ResourceType, WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import type { GpuMemory } from './buffers.js';

export type Constants = Record<string, number>;

interface BindingSlot {
  binding: number;
  type: GPUBufferBindingType;
}

interface EntryInfo {
  /** WGSL variable name -> slot in group 0. */
  slots: Map<string, BindingSlot>;
  overrides: Set<string>;
}

const reflections = new Map<string, Map<string, EntryInfo>>();

/** Reflect every compute entry point of a WGSL module (cached by source text). */
export function reflectShader(source: string): Map<string, EntryInfo> {
  let entries = reflections.get(source);
  if (entries) return entries;
  const reflect = new WgslReflect(source);
  entries = new Map();
  const moduleOverrides = new Set(reflect.overrides.map((o) => o.name));
  for (const fn of reflect.entry.compute) {
    const slots = new Map<string, BindingSlot>();
    for (const r of fn.resources) {
      if (r.group !== 0)
        throw new Error(`${fn.name}: binding ${r.name} is in group ${r.group}; kernels use group 0 only`);
      let type: GPUBufferBindingType;
      if (r.resourceType === ResourceType.Uniform) type = 'uniform';
      else if (r.resourceType === ResourceType.Storage)
        type = r.access === 'read' ? 'read-only-storage' : 'storage';
      else throw new Error(`${fn.name}: binding ${r.name} is not a buffer`);
      slots.set(r.name, { binding: r.binding, type });
    }
    entries.set(fn.name, { slots, overrides: moduleOverrides });
  }
  reflections.set(source, entries);
  return entries;
}

/** A WGSL struct of u32 fields as a uniform buffer holds it: each field's offset (in u32s) and the size. */
export interface UniformLayout {
  struct: string;
  offsets: ReadonlyMap<string, number>;
  words: number;
}

const layouts = new Map<string, UniformLayout>();

/** The layout of struct `struct` in `source`, from wgsl_reflect's member offsets (cached). */
export function uniformLayout(source: string, struct: string): UniformLayout {
  const key = `${struct}\0${source}`;
  let layout = layouts.get(key);
  if (layout) return layout;
  const info = new WgslReflect(source).structs.find((s) => s.name === struct);
  if (!info) throw new Error(`WGSL struct ${struct} not found`);
  const offsets = new Map<string, number>();
  for (const m of info.members) {
    if (m.type.name !== 'u32' || m.size !== 4) throw new Error(`${struct}.${m.name} is not a u32`);
    offsets.set(m.name, m.offset / 4);
  }
  layout = { struct, offsets, words: info.size / 4 };
  layouts.set(key, layout);
  return layout;
}

/**
 * A uniform's words: each value written at its field's offset by name. A name the struct lacks
 * throws; a field not given is 0, or throws with `complete`.
 */
export function packUniform(
  layout: UniformLayout,
  values: Record<string, number | undefined>,
  complete = false,
): Uint32Array {
  const words = new Uint32Array(layout.words);
  for (const [name, value] of Object.entries(values)) {
    const at = layout.offsets.get(name);
    if (at === undefined) throw new Error(`${layout.struct} has no field '${name}'`);
    if (value !== undefined) words[at] = value;
  }
  if (complete) {
    const missing = [...layout.offsets.keys()].filter((n) => values[n] === undefined);
    if (missing.length) throw new Error(`${layout.struct}: no value for ${missing.join(', ')}`);
  }
  return words;
}

let kernelCount = 0;

export class Kernel {
  readonly pipeline: GPUComputePipeline;
  private readonly layout: GPUBindGroupLayout;
  /** Names this kernel's bind group layout in bind group keys (GpuMemory.bindGroup). */
  readonly id = kernelCount++;

  constructor(
    readonly device: GPUDevice,
    readonly label: string,
    private readonly info: EntryInfo,
    module: GPUShaderModule,
    entryPoint: string,
    constants: Constants,
  ) {
    const entries: GPUBindGroupLayoutEntry[] = [...info.slots.values()].map((s) => ({
      binding: s.binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: s.type },
    }));
    this.layout = device.createBindGroupLayout({ label, entries });
    this.pipeline = device.createComputePipeline({
      label,
      layout: device.createPipelineLayout({ label, bindGroupLayouts: [this.layout] }),
      compute: { module, entryPoint, constants },
    });
  }

  /**
   * A bind group from buffers named as the WGSL variables; every binding must be given, no extra
   * ones. With `memo`, the same buffers (same objects, offsets and sizes) give the same bind group
   * for as long as they live.
   */
  bind(buffers: Record<string, GPUBuffer | GPUBufferBinding>, memo?: GpuMemory): GPUBindGroup {
    const given = new Set(Object.keys(buffers));
    const entries: { binding: number; resource: GPUBufferBinding }[] = [];
    for (const [name, slot] of this.info.slots) {
      const b = buffers[name];
      if (!b) throw new Error(`${this.label}: no buffer given for binding '${name}'`);
      given.delete(name);
      entries.push({ binding: slot.binding, resource: 'buffer' in b ? b : { buffer: b } });
    }
    if (given.size) throw new Error(`${this.label}: unknown bindings ${[...given].join(', ')}`);
    const make = () => this.device.createBindGroup({ label: this.label, layout: this.layout, entries });
    return memo ? memo.bindGroup(this.id, entries, make) : make();
  }
}

const perDevice = new WeakMap<GPUDevice, KernelCache>();

/** Shader modules and pipelines, built once per (shader, entry point, override constants). */
export class KernelCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly kernels = new Map<string, Kernel>();

  constructor(readonly device: GPUDevice) {}

  /** The cache every model on `device` shares: a pipeline is compiled once per device. */
  static forDevice(device: GPUDevice): KernelCache {
    let cache = perDevice.get(device);
    if (!cache) {
      cache = new KernelCache(device);
      perDevice.set(device, cache);
    }
    return cache;
  }

  get size(): number {
    return this.kernels.size;
  }

  get(shaderName: string, source: string, entryPoint: string, constants: Constants = {}): Kernel {
    const key = `${shaderName}:${entryPoint}:${Object.keys(constants)
      .sort()
      .map((k) => `${k}=${constants[k]}`)
      .join(',')}`;
    let kernel = this.kernels.get(key);
    if (kernel) return kernel;
    const info = reflectShader(source).get(entryPoint);
    if (!info) throw new Error(`${shaderName}.wgsl has no compute entry point '${entryPoint}'`);
    for (const name of Object.keys(constants)) {
      if (!info.overrides.has(name)) throw new Error(`${shaderName}.wgsl has no override '${name}'`);
      if (!Number.isFinite(constants[name]))
        throw new Error(`${shaderName}.wgsl: override '${name}' = ${constants[name]}`);
    }
    let module = this.modules.get(shaderName);
    if (!module) {
      module = this.device.createShaderModule({ label: shaderName, code: source });
      this.modules.set(shaderName, module);
    }
    kernel = new Kernel(this.device, key, info, module, entryPoint, constants);
    this.kernels.set(key, kernel);
    return kernel;
  }
}
