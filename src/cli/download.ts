// `dinov2-webgpu download`: fills the Hugging Face cache with a checkpoint, with progress, and
// prints the snapshot folder (which `--model` of the other commands, or Python, then reads).
import { downloadPretrained } from '../io/pretrained.js';
import { type CommandSpec, type ParsedArgs, UsageError } from './args.js';
import { HUB_OPTIONS, hubOptions } from './model_source.js';
import { formatBytes, Progress } from './progress.js';

export const DOWNLOAD_COMMAND: CommandSpec = {
  name: 'download',
  summary:
    "Fills the Hugging Face cache (shared with Python's huggingface_hub) with a checkpoint and prints its snapshot folder.",
  positional: 'ID',
  options: HUB_OPTIONS,
  example: 'dinov2-webgpu download facebook/dinov2-with-registers-small',
};

export async function download(
  args: ParsedArgs,
  log: (line: string) => void,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<void> {
  if (args.positional.length !== 1)
    throw new UsageError(
      args.positional.length ? `one ID, got ${args.positional.join(' ')}` : 'ID is required (org/name)',
    );
  const [id] = args.positional;
  if (!/^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?(@.+)?$/.test(id))
    throw new UsageError(`${id} is not a hub id (org/name)`);
  const progress = new Progress();
  const result = await downloadPretrained(id, hubOptions(args, progress));
  progress.end();
  const fetched = result.files.filter((f) => f.downloaded);
  const total = result.files.reduce((n, f) => n + f.bytes, 0);
  log(
    `${result.label}: ${result.files.length} files, ${formatBytes(total)} (${fetched.length} downloaded, ${result.files.length - fetched.length} already cached)`,
  );
  print(result.location ?? result.label);
}
