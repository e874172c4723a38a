// The Node command line: `dinov2-webgpu <command> ...`.
import '../platform_node.js';
import { UsageError } from './args.js';
import { infer, INFER_USAGE } from './infer.js';
import { preprocess, PREPROCESS_USAGE } from './preprocess.js';
import { classify, CLASSIFY_USAGE } from './classify.js';
import { download, DOWNLOAD_USAGE } from './download.js';
import { embed, EMBED_USAGE } from './embed.js';

type Command = (argv: string[], log: (line: string) => void) => Promise<void>;

const COMMANDS: Record<string, { run: Command; usage: string }> = {
  infer: { run: infer, usage: INFER_USAGE },
  preprocess: { run: preprocess, usage: PREPROCESS_USAGE },
  embed: { run: embed, usage: EMBED_USAGE },
  classify: { run: classify, usage: CLASSIFY_USAGE },
  download: { run: download, usage: DOWNLOAD_USAGE },
};

function usage(): string {
  return [
    'usage:',
    ...Object.values(COMMANDS).map((c) => `  ${c.usage}`),
    'Set DINOV2_WEBGPU_DEBUG=1 (or pass --debug) for stack traces.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug') || process.env.DINOV2_WEBGPU_DEBUG === '1';
  const rest = argv.filter((a) => a !== '--debug');
  const [name, ...args] = rest;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`dinov2-webgpu: unknown command '${name}'\n${usage()}\n`);
    return 2;
  }
  try {
    await command.run(args, (line) => process.stderr.write(`${line}\n`));
    return 0;
  } catch (e) {
    const err = e as Error;
    if (debug) process.stderr.write(`${err.stack ?? err}\n`);
    else process.stderr.write(`dinov2-webgpu ${name}: ${err.message}\n`);
    if (err instanceof UsageError) {
      process.stderr.write(`usage: ${command.usage}\n`);
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
