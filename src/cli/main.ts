// The Node command line: `dinov2-webgpu <command> ...`.
import '../platform_node.js';
import { version } from '../../package.json';
import {
  type CommandSpec,
  HelpRequested,
  helpText,
  type ParsedArgs,
  parseOptions,
  UsageError,
  usageLine,
} from './args.js';
import { CLASSIFY_COMMAND, classify } from './classify.js';
import { DOWNLOAD_COMMAND, download } from './download.js';
import { EMBED_COMMAND, embed } from './embed.js';
import { INFER_COMMAND, infer } from './infer.js';
import { MERGE_COMMAND, merge } from './merge.js';
import { installSignalCleanup } from './output.js';
import { PREPROCESS_COMMAND, preprocess } from './preprocess.js';

type Command = (args: ParsedArgs, log: (line: string) => void) => Promise<void>;

const COMMANDS: { spec: CommandSpec; run: Command }[] = [
  { spec: EMBED_COMMAND, run: embed },
  { spec: MERGE_COMMAND, run: merge },
  { spec: CLASSIFY_COMMAND, run: classify },
  { spec: INFER_COMMAND, run: infer },
  { spec: PREPROCESS_COMMAND, run: preprocess },
  { spec: DOWNLOAD_COMMAND, run: download },
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length)) + 2;
  return [
    `dinov2-webgpu ${version}: DINOv2 with registers and DINOv3 on WebGPU (Dawn in Node), transformers' outputs from the official checkpoints.`,
    '',
    'usage: dinov2-webgpu COMMAND [options]   (dinov2-webgpu COMMAND --help: its options and an example)',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`),
    '',
    'options of every command:',
    "  --debug      stack traces, and the GPU drivers' own warnings (also DINOV2_WEBGPU_DEBUG=1)",
    "  -h, --help   the command's help",
    '  --version    the version of dinov2-webgpu',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug') || process.env.DINOV2_WEBGPU_DEBUG === '1';
  // The GPU code reads it too: with it, adapter discovery runs unfiltered and drivers' warnings show.
  if (debug) process.env.DINOV2_WEBGPU_DEBUG = '1';
  const rest = argv.filter((a) => a !== '--debug');
  const [name, ...args] = rest;
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (!name) {
    process.stderr.write(`${usage()}\n`);
    return 2;
  }
  const command = COMMANDS.find((c) => c.spec.name === name);
  if (!command) {
    process.stderr.write(
      `dinov2-webgpu: unknown command '${name}' (commands: ${COMMANDS.map((c) => c.spec.name).join(', ')}; --help says what each does)\n`,
    );
    return 2;
  }
  installSignalCleanup();
  try {
    await command.run(parseOptions(args, command.spec.options), (line) => process.stderr.write(`${line}\n`));
    return 0;
  } catch (e) {
    if (e instanceof HelpRequested) {
      process.stdout.write(`${helpText(command.spec)}\n`);
      return 0;
    }
    const err = e as Error;
    if (debug) process.stderr.write(`${err.stack ?? err}\n`);
    else process.stderr.write(`dinov2-webgpu ${name}: ${err.message}\n`);
    if (err instanceof UsageError) {
      process.stderr.write(`usage: ${usageLine(command.spec)}   (--help for more)\n`);
      return 2;
    }
    return 1;
  }
}

// Dawn keeps the event loop alive; leave explicitly once the command is done.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`dinov2-webgpu: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
