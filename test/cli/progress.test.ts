// The command line's progress: a bar redrawn in place on a terminal, one line per finished file elsewhere.
import { describe, expect, it } from 'vitest';
import { formatBytes, Progress } from '../../src/cli/progress.js';

function fakeStream(isTTY: boolean) {
  const written: string[] = [];
  return {
    written,
    stream: { isTTY, columns: 80, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream,
  };
}

describe('Progress', () => {
  it('on a TTY: a bar redrawn with \\r, ended by a newline when complete', () => {
    const { written, stream } = fakeStream(true);
    const p = new Progress(stream, () => undefined);
    p.update('model.safetensors', 0, 4 * 2 ** 20);
    p.update('model.safetensors', 4 * 2 ** 20, 4 * 2 ** 20);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ANSI erase-line sequence is what is tested
    expect(written[0]).toMatch(/^\r\u001b\[2Kmodel\.safetensors \[-{24}\] {3}0% 0 B \/ 4\.00 MiB$/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ANSI erase-line sequence is what is tested
    expect(written[1]).toMatch(/^\r\u001b\[2Kmodel\.safetensors \[#{24}\] 100% 4\.00 MiB \/ 4\.00 MiB$/);
    expect(written[2]).toBe('\n');
  });

  it('elsewhere: one line per finished file, nothing while it runs', () => {
    const { written, stream } = fakeStream(false);
    const lines: string[] = [];
    const p = new Progress(stream, (l) => lines.push(l));
    p.update('config.json', 10, 700);
    p.update('config.json', 700, 700);
    p.update('config.json', 700, 700);
    p.update('embedding', 3, 3, false);
    expect(written).toEqual([]);
    expect(lines).toEqual(['config.json: 700 B', 'embedding: 3']);
    expect(formatBytes(1536)).toBe('1.50 KiB');
  });
});
