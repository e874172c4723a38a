/** A usage mistake: reported with the command's usage line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface ParsedArgs {
  positional: string[];
  values: Map<string, string>;
  flags: Set<string>;
}

/**
 * `--name value` for the names in `valued`, `--name` alone for those in `boolean`; anything else is
 * a usage error (a misspelt option must never be ignored).
 */
export function parseArgs(argv: string[], valued: string[], boolean: string[]): ParsedArgs {
  const out: ParsedArgs = { positional: [], values: new Map(), flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      out.positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (valued.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      out.values.set(name, value);
    } else if (boolean.includes(name) && eq < 0) {
      out.flags.add(name);
    } else {
      throw new UsageError(`unknown option ${arg}`);
    }
  }
  return out;
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
