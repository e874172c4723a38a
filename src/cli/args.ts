// Command-line arguments through Node's util.parseArgs, with each command's options declared once:
// the same declaration parses, checks and prints the help.
import { parseArgs as nodeParseArgs } from 'node:util';

/** A usage mistake: reported with the command's usage line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** `-h` / `--help` was given: the command's help goes to stdout, exit code 0. */
export class HelpRequested extends Error {
  override name = 'HelpRequested';
}

export interface OptionSpec {
  name: string;
  /** The value's placeholder (`FILE`); absent for a flag. */
  value?: string;
  short?: string;
  /** The default, as the help shows it. */
  default?: string;
  /** Listed in the usage line. */
  required?: boolean;
  help: string;
}

export interface CommandSpec {
  name: string;
  /** What the command does, one sentence. */
  summary: string;
  /** The positional arguments as the usage line shows them ("IMAGE..."); empty when none. */
  positional: string;
  options: OptionSpec[];
  example: string;
}

export interface ParsedArgs {
  positional: string[];
  values: Map<string, string>;
  flags: Set<string>;
}

const HELP: OptionSpec = { name: 'help', short: 'h', help: 'print this help and exit' };

function optionLabel(o: OptionSpec): string {
  return `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.value ? ` ${o.value}` : ''}`;
}

export function usageLine(spec: CommandSpec): string {
  const required = spec.options.filter((o) => o.required).map(optionLabel);
  return ['dinov2-webgpu', spec.name, spec.positional, ...required, '[options]'].filter(Boolean).join(' ');
}

/** The command's help: what it does, usage, every option with its default, an example. */
export function helpText(spec: CommandSpec): string {
  const options = [...spec.options, HELP];
  const labels = options.map(optionLabel);
  const width = Math.min(30, Math.max(...labels.map((l) => l.length))) + 2;
  const lines = options.map((o, i) => {
    const label = labels[i].padEnd(width);
    const text = `${o.help}${o.default !== undefined ? ` (default: ${o.default})` : ''}`;
    return labels[i].length >= width ? `  ${labels[i]}\n  ${' '.repeat(width)}${text}` : `  ${label}${text}`;
  });
  return [
    `dinov2-webgpu ${spec.name}: ${spec.summary}`,
    '',
    `usage: ${usageLine(spec)}`,
    '',
    'options:',
    ...lines,
    '',
    'example:',
    `  ${spec.example}`,
  ].join('\n');
}

/**
 * Parses `argv` against `options`; anything else is a usage error (a misspelt option must never be
 * ignored), and so is a value that looks like an option (`--output --auto-orient` would otherwise
 * write a file named `--auto-orient`; `--output=-x` says that it is meant). With `help`, -h/--help
 * anywhere throws HelpRequested.
 */
export function parseOptions(argv: string[], options: OptionSpec[], help = true): ParsedArgs {
  const all = help ? [...options, HELP] : options;
  const byName = new Map(all.map((o) => [o.name, o]));
  const { tokens } = nodeParseArgs({
    args: argv,
    options: Object.fromEntries(
      all.map((o) => [
        o.name,
        {
          type: o.value ? ('string' as const) : ('boolean' as const),
          ...(o.short ? { short: o.short } : {}),
        },
      ]),
    ),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const out: ParsedArgs = { positional: [], values: new Map(), flags: new Set() };
  if (help && tokens.some((t) => t.kind === 'option' && t.name === 'help')) throw new HelpRequested();
  for (const t of tokens) {
    if (t.kind === 'positional') out.positional.push(t.value);
    if (t.kind !== 'option') continue;
    const spec = byName.get(t.name);
    if (!spec) throw new UsageError(`unknown option ${t.rawName}`);
    if (!spec.value) {
      if (t.value !== undefined) throw new UsageError(`${t.rawName} takes no value`);
      out.flags.add(t.name);
      continue;
    }
    const value = t.value;
    if (value === undefined) throw new UsageError(`${t.rawName} needs a value`);
    if (!t.inlineValue && value.length > 1 && value.startsWith('-') && !/^-\d/.test(value))
      throw new UsageError(
        `${t.rawName} needs a value, got the option ${value} (write ${t.rawName}=${value} if it is meant)`,
      );
    if (out.values.has(t.name)) throw new UsageError(`${t.rawName} is given twice`);
    out.values.set(t.name, value);
  }
  return out;
}

/** `--name value` for the names in `valued`, `--name` alone for those in `boolean` (no help option). */
export function parseArgs(argv: string[], valued: string[], boolean: string[]): ParsedArgs {
  return parseOptions(
    argv,
    [
      ...valued.map((name) => ({ name, value: 'VALUE', help: '' })),
      ...boolean.map((name) => ({ name, help: '' })),
    ],
    false,
  );
}

export function required(args: ParsedArgs, name: string): string {
  const v = args.values.get(name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

/** "1,3" -> [1, 3] */
export function integerList(text: string, name: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^-?\d+$/.test(p)))
    throw new UsageError(`--${name} takes comma-separated integers, got ${JSON.stringify(text)}`);
  return parts.map(Number);
}

/** A positive integer option, `fallback` when absent. */
export function positiveInteger(args: ParsedArgs, name: string, fallback: number): number {
  const text = args.values.get(name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new UsageError(`--${name} takes a positive integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** A non-negative integer option, `fallback` when absent. */
export function nonNegativeInteger(args: ParsedArgs, name: string, fallback: number): number {
  const text = args.values.get(name);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text))
    throw new UsageError(`--${name} takes a non-negative integer, got ${JSON.stringify(text)}`);
  return Number(text);
}
