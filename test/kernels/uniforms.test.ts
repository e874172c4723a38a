// Uniform buffers are written by field name at the offsets wgsl_reflect reads from the WGSL
// struct, so a field misspelled in TypeScript fails and a reordered struct still gets its values.
import { describe, expect, it } from 'vitest';
import { packUniform, uniformLayout } from '../../src/gpu/kernel.js';
import { SHADERS, SHAPE_WGSL } from '../../src/gpu/shaders.js';

const shape = { rows: 6, batch: 2, tokens: 3, height: 28, width: 42, grid_h: 2, grid_w: 3, patches: 6 };

describe('uniforms by field name', () => {
  it("shape.wgsl's Shape: every field lands at its reflected offset", () => {
    const layout = uniformLayout(SHAPE_WGSL, 'Shape');
    const words = packUniform(layout, shape);
    expect(words.length).toBe(8);
    for (const [name, value] of Object.entries(shape)) expect(words[layout.offsets.get(name)!]).toBe(value);
    expect(Array.from(words)).toEqual([6, 2, 3, 28, 42, 2, 3, 6]);
  });

  it('a field the struct lacks (misspelled) throws, naming it', () => {
    const layout = uniformLayout(SHAPE_WGSL, 'Shape');
    expect(() => packUniform(layout, { ...shape, grid_width: 3 })).toThrow("Shape has no field 'grid_width'");
  });

  it('a reordered struct gets the same values by name', () => {
    const reordered = SHAPE_WGSL.replace(/rows: u32,[^\n]*\n/, '').replace(
      'patches: u32,',
      'patches: u32,\n  rows: u32,',
    );
    const layout = uniformLayout(reordered, 'Shape');
    expect(layout.offsets.get('rows')).toBe(7);
    const words = packUniform(layout, shape);
    expect(Array.from(words)).toEqual([2, 3, 28, 42, 2, 3, 6, 6]);
    expect(Array.from(words)).not.toEqual(Array.from(packUniform(uniformLayout(SHAPE_WGSL, 'Shape'), shape)));
  });

  it("pack.wgsl's Part must be complete: a field left out throws", () => {
    const layout = uniformLayout(SHADERS.pack, 'Part');
    const part = { rows: 3, cols: 5, row0: 0, out_rows4: 4, glu_half: 0, piece_row0: 0, piece_rows: 3 };
    expect(Array.from(packUniform(layout, part, true))).toEqual([3, 5, 0, 4, 0, 0, 3]);
    const { glu_half: _, ...short } = part;
    expect(() => packUniform(layout, short, true)).toThrow('Part: no value for glu_half');
  });
});
