// bench/device.sh's last step: one table from the JSON lines of our engine (bench/node.ts --json)
// and of PyTorch (bench/torch_bench.py), and the check that our adapter was the NVIDIA GPU.
//   node device_table.mjs OURS.jsonl TORCH.jsonl [--allow-software] [--notes "..."]
// Exit code 4 when an engine record ran on a software adapter or on no NVIDIA adapter (unless
// --allow-software, the dry run's), so a CPU fallback is never reported as GPU numbers.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface TableRow {
  engine?: string;
  model?: string;
  dtype?: string;
  batch?: number;
  size?: number;
  medianMs?: number;
  p90Ms?: number;
  firstRunMs?: number;
  imagesPerSecond?: number;
  dispatches?: number;
  outputsFinite?: boolean;
  error?: string;
  skipped?: string;
  gpu?: string;
  attnImplementation?: string;
  adapter?: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    isSoftware: boolean;
  };
}

function readLines(path: string): TableRow[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as TableRow);
}

const cell = (r: TableRow | undefined) => {
  if (!r) return '-';
  if (r.error) return 'error';
  if (r.medianMs === undefined) return '-';
  return `${r.medianMs.toFixed(2)} / ${r.p90Ms!.toFixed(2)} (${r.imagesPerSecond!.toPrecision(3)}/s)${r.outputsFinite === false ? ' NaN!' : ''}`;
};

export function deviceTable(
  ours: TableRow[],
  torch: TableRow[],
  allowSoftware: boolean,
  notes: string[],
): { lines: string[]; ok: boolean } {
  const lines: string[] = [];
  let ok = true;
  const oursRuns = ours.filter((r) => r.engine === 'dinov2-webgpu' && r.adapter);
  for (const r of oursRuns) {
    const a = r.adapter!;
    const nvidia = /nvidia/i.test(`${a.vendor} ${a.description}`) || a.vendor === '0x10de';
    if (a.isSoftware || !nvidia) {
      ok = false;
      lines.push(
        `ADAPTER CHECK FAILED for ${r.model} batch ${r.batch}: ${[a.vendor, a.architecture, a.device, a.description].join(' / ')}${a.isSoftware ? ' (software)' : ' (not NVIDIA)'}`,
      );
    }
  }
  const adapters = [
    ...new Set(
      oursRuns.map((r) =>
        [r.adapter!.vendor, r.adapter!.architecture, r.adapter!.description].filter(Boolean).join(' / '),
      ),
    ),
  ];
  if (oursRuns.length && ok) lines.push(`adapter check: OK, every run of ours on ${adapters.join('; ')}`);
  else if (oursRuns.length && allowSoftware)
    lines.push(`adapter check: failed, accepted (--allow-software): these are NOT GPU numbers`);
  if (!oursRuns.length) lines.push('adapter check: no run of ours finished');
  const gpu = torch.find((r) => r.gpu)?.gpu;
  if (gpu)
    lines.push(
      `PyTorch on ${gpu}, attention ${torch.find((r) => r.attnImplementation)?.attnImplementation}, fp32 with TF32 off`,
    );
  for (const r of torch.filter((t) => t.skipped)) lines.push(`PyTorch skipped: ${r.skipped}`);

  const keys = [
    ...new Set(
      [...oursRuns, ...torch].filter((r) => r.model && r.batch).map((r) => `${r.model}|${r.size}|${r.batch}`),
    ),
  ];
  const find = (rows: TableRow[], key: string, dtype: string) =>
    rows.find((r) => `${r.model}|${r.size}|${r.batch}` === key && (r.dtype ?? 'fp32') === dtype);
  const header = [
    'model',
    'image',
    'batch',
    'ours fp32 ms',
    'ours fp16 ms',
    'torch fp32 ms',
    'torch fp16 ms',
    'ours/torch fp32',
  ];
  const table = [header];
  for (const key of keys) {
    const [model, size, batch] = key.split('|');
    const o32 = find(oursRuns, key, 'fp32');
    const o16 = find(oursRuns, key, 'fp16');
    const t32 = find(torch, key, 'fp32');
    const t16 = find(torch, key, 'fp16');
    const ratio = o32?.medianMs && t32?.medianMs ? `${(o32.medianMs / t32.medianMs).toFixed(2)}x` : '-';
    table.push([
      model.replace('random:', ''),
      size,
      batch,
      cell(o32),
      cell(o16),
      cell(t32),
      cell(t16),
      ratio,
    ]);
  }
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)));
  lines.push(
    'median / p90 ms per forward (images/s at the median); ours timed to queue.onSubmittedWorkDone(), torch with CUDA events',
  );
  for (const row of table) lines.push(row.map((c, i) => c.padEnd(widths[i])).join('  '));
  for (const r of [...ours, ...torch].filter((x) => x.error))
    lines.push(`error: ${r.engine} ${r.model} batch ${r.batch} ${r.dtype}: ${r.error}`);
  for (const n of notes) lines.push(`note: ${n}`);
  return { lines, ok: ok || allowSoftware };
}

const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  const args = process.argv.slice(2);
  const allowSoftware = args.includes('--allow-software');
  const notes: string[] = [];
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--notes') notes.push(...args[++i].split('\n').filter(Boolean));
    else if (args[i] !== '--allow-software') files.push(args[i]);
  }
  const [oursPath, torchPath] = files;
  const { lines, ok } = deviceTable(
    readLines(oursPath),
    torchPath ? readLines(torchPath) : [],
    allowSoftware,
    notes,
  );
  for (const l of lines) console.log(l);
  if (!ok) process.exitCode = 4;
}
