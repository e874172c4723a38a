// embeddings.wgsl (im2col, assemble_tokens) and heads.wgsl (cls_and_patch_mean,
// patch_tokens_to_map), each entry point alone against its float64 twin (test/reference/ops_f64.ts),
// on odd shapes: images that are not whole patches, more than one workgroup of columns or dims.
import { describe, expect, it } from 'vitest';
import type { Recorder } from '../../src/gpu/recorder.js';
import { EMBEDDINGS_THREADS } from '../../src/model/embeddings.js';
import { HEAD_THREADS } from '../../src/model/heads.js';
import { expectClose } from '../helpers/compare.js';
import { random, randomArray, runOnGpu } from '../helpers/gpu.js';
import { assembleTokens64, clsAndPatchMean64, im2col64, patchTokensToMap64 } from '../reference/ops_f64.js';

interface Sizes {
  batch: number;
  channels: number;
  patch: number;
  height: number;
  width: number;
  dim: number;
  registers: number;
}

function grid(s: Sizes) {
  const gridH = Math.floor(s.height / s.patch);
  const gridW = Math.floor(s.width / s.patch);
  const patches = gridH * gridW;
  return { gridH, gridW, patches, tokens: 1 + s.registers + patches };
}

/** The per-call sizes every shape uniform of these dispatches carries. */
function setInput(rec: Recorder, s: Sizes): void {
  const g = grid(s);
  rec.setInput({
    batch: s.batch,
    tokens: g.tokens,
    height: s.height,
    width: s.width,
    grid_h: g.gridH,
    grid_w: g.gridW,
    patches: g.patches,
  });
}

const embeddingConstants = (s: Sizes) => ({
  CHANNELS: s.channels,
  PATCH: s.patch,
  D: s.dim,
  REGISTERS: s.registers,
  THREADS: EMBEDDINGS_THREADS,
});

describe('embeddings.wgsl against float64', () => {
  const cases: Sizes[] = [
    { batch: 2, channels: 3, patch: 5, height: 17, width: 23, dim: 7, registers: 3 },
    // 6 * 7 * 7 = 294 columns: two workgroups of them.
    { batch: 1, channels: 6, patch: 7, height: 15, width: 7, dim: 5, registers: 0 },
  ];
  for (const [i, s] of cases.entries()) {
    it(`im2col: ${s.batch} images ${s.channels}x${s.height}x${s.width} into ${s.patch}x${s.patch} patches (the edge dropped)`, async () => {
      const rand = random(700 + i);
      const pixels = randomArray(s.batch * s.channels * s.height * s.width, rand);
      const { patches } = grid(s);
      const cols = s.channels * s.patch * s.patch;
      const rows = s.batch * patches;
      const { columns } = await runOnGpu(
        ({ memory, rec }) => {
          setInput(rec, s);
          const columns = memory.create('columns', rows * cols * 4);
          rec.dispatch(
            'embeddings',
            'im2col',
            embeddingConstants(s),
            { pixel_values: memory.upload('pixels', pixels), columns, shape: rec.shape({ rows }) },
            [Math.ceil(cols / EMBEDDINGS_THREADS), rows],
          );
          return { columns };
        },
        { columns: rows * cols },
      );
      const image = { batch: s.batch, channels: s.channels, height: s.height, width: s.width };
      // A copy: exact.
      expect(Array.from(columns)).toEqual(Array.from(im2col64(pixels, image, s.patch)));
    });

    it(`assemble_tokens: ${s.batch} images of ${grid(s).patches} patches, ${s.registers} registers, some masked, D=${s.dim}`, async () => {
      const rand = random(710 + i);
      const { patches, tokens } = grid(s);
      const projected = randomArray(s.batch * patches * s.dim, rand);
      const cls = randomArray(s.dim, rand);
      const registers = randomArray(Math.max(1, s.registers) * s.dim, rand);
      const maskToken = randomArray(s.dim, rand);
      const mask = Uint32Array.from({ length: s.batch * patches }, (_, j) => (j % 3 === 1 ? 1 : 0));
      const positions = randomArray((1 + patches) * s.dim, rand);
      const rows = s.batch * tokens;
      const { hidden } = await runOnGpu(
        ({ memory, rec }) => {
          setInput(rec, s);
          const hidden = memory.create('hidden', rows * s.dim * 4);
          rec.dispatch(
            'embeddings',
            'assemble_tokens',
            embeddingConstants(s),
            {
              patches: memory.upload('patches', projected),
              cls_token: memory.upload('cls', cls),
              register_tokens: memory.upload('registers', registers),
              mask_token: memory.upload('mask_token', maskToken),
              bool_masked_pos: memory.upload('mask', mask),
              position_embeddings: memory.upload('positions', positions),
              hidden,
              shape: rec.shape({ rows }),
            },
            [Math.ceil(s.dim / EMBEDDINGS_THREADS), rows],
          );
          return { hidden };
        },
        { hidden: rows * s.dim },
      );
      const ref = assembleTokens64(projected, {
        batch: s.batch,
        patches,
        dim: s.dim,
        cls,
        registers,
        registerCount: s.registers,
        maskToken,
        mask,
        positions,
      });
      expectClose(hidden, ref, 'assemble_tokens');
    });
  }
});

describe('heads.wgsl against float64', () => {
  // D = 300: two workgroups of dims; 3 registers + cls before 2 x 3 patches.
  const s: Sizes = { batch: 3, channels: 3, patch: 4, height: 9, width: 13, dim: 300, registers: 3 };
  const { patches, tokens } = grid(s);
  const prefix = 1 + s.registers;
  const constants = { D: s.dim, PREFIX: prefix, THREADS: HEAD_THREADS };

  it(`cls_and_patch_mean: cat[cls, mean of ${patches} patch tokens] of ${s.batch} sequences of ${tokens} tokens, D=${s.dim}`, async () => {
    const sequence = randomArray(s.batch * tokens * s.dim, random(720));
    const { pooled } = await runOnGpu(
      ({ memory, rec }) => {
        setInput(rec, s);
        const pooled = memory.create('pooled', s.batch * 2 * s.dim * 4);
        rec.dispatch(
          'heads',
          'cls_and_patch_mean',
          constants,
          { hidden: memory.upload('sequence', sequence), pooled, shape: rec.shape({ rows: s.batch }) },
          [Math.ceil(s.dim / HEAD_THREADS), s.batch],
        );
        return { pooled };
      },
      { pooled: s.batch * 2 * s.dim },
    );
    expectClose(pooled, clsAndPatchMean64(sequence, s.batch, tokens, prefix, s.dim), 'cls_and_patch_mean');
  });

  it(`patch_tokens_to_map: ${s.batch} sequences of ${tokens} tokens to [${s.batch}, ${s.dim}, 2, 3] maps`, async () => {
    const sequence = randomArray(s.batch * tokens * s.dim, random(721));
    const { map } = await runOnGpu(
      ({ memory, rec }) => {
        setInput(rec, s);
        const map = memory.create('map', s.batch * s.dim * patches * 4);
        rec.dispatch(
          'heads',
          'patch_tokens_to_map',
          constants,
          {
            hidden: memory.upload('sequence', sequence),
            feature_map: map,
            shape: rec.shape({ rows: s.batch * tokens }),
          },
          [Math.ceil(patches / HEAD_THREADS), s.dim, s.batch],
        );
        return { map };
      },
      { map: s.batch * s.dim * patches },
    );
    // A copy: exact.
    expect(Array.from(map)).toEqual(Array.from(patchTokensToMap64(sequence, s.batch, tokens, prefix, s.dim)));
  });
});
