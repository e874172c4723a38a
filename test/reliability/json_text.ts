// JSON text written by hand, so that tests can say what JSON.stringify cannot: repeated keys, keys
// in any order, escaped keys, odd whitespace, values nested deeper than JSON.stringify can walk.

/** An object as an ordered list of pairs; keys may repeat. */
export class Obj {
  constructor(readonly pairs: [string, J][]) {}

  get(key: string): J | undefined {
    return this.pairs.find(([k]) => k === key)?.[1];
  }

  with(key: string, value: J | undefined): Obj {
    const pairs = this.pairs.filter(([k]) => k !== key);
    const at = this.pairs.findIndex(([k]) => k === key);
    if (value === undefined) return new Obj(pairs);
    if (at < 0) return new Obj([...pairs, [key, value]]);
    pairs.splice(at, 0, [key, value]);
    return new Obj(pairs);
  }
}

/** JSON text used as it is. */
export class Raw {
  constructor(readonly text: string) {}

  /** How fast-check prints it in a counterexample: long texts cut short. */
  [Symbol.for('fast-check/toStringMethod')](): string {
    const t = this.text;
    return `Raw(${t.length > 60 ? `${JSON.stringify(t.slice(0, 24))}...${JSON.stringify(t.slice(-24))}, ${t.length} chars` : JSON.stringify(t)})`;
  }
}

export type J = null | boolean | number | string | J[] | Obj | Raw;

/** `depth` nested arrays: valid JSON that JSON.parse reads but JSON.stringify (and String()) overflow the stack on. */
export function deepArray(depth: number): Raw {
  return new Raw(`${'['.repeat(depth)}${']'.repeat(depth)}`);
}

export interface TextStyle {
  /** Write every key as \uXXXX escapes. */
  escapeKeys?: boolean;
  /** Whitespace after `{`, `,` and `:` (JSON's four whitespace characters only). */
  space?: string;
}

function escapeAll(key: string): string {
  let out = '"';
  for (let i = 0; i < key.length; i++) out += `\\u${key.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return `${out}"`;
}

export function jsonText(v: J, style: TextStyle = {}): string {
  const s = style.space ?? '';
  if (v instanceof Raw) return v.text;
  if (v instanceof Obj) {
    const key = (k: string) => (style.escapeKeys ? escapeAll(k) : JSON.stringify(k));
    return `{${s}${v.pairs.map(([k, x]) => `${key(k)}:${s}${jsonText(x, style)}`).join(`,${s}`)}}`;
  }
  if (Array.isArray(v)) return `[${v.map((x) => jsonText(x, style)).join(`,${s}`)}]`;
  return JSON.stringify(v);
}
