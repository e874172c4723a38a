// Names that come from the network or the user and become parts of a path in the cache: a
// revision (refs/{revision}, snapshots/{commit}), an ETag (blobs/{etag}), a file or shard name
// (snapshots/{commit}/{file}). Each path component must be a plain name: not empty, not `.` or
// `..`, no separator, no NUL or control character, none of the characters or device names Windows
// reserves. A name made of several components (a file in a subfolder, a revision like
// "refs/pr/1") is checked component by component, so whatever it is, it stays inside the folder
// it is joined to.

export class UnsafeNameError extends Error {
  override name = 'UnsafeNameError';
}

const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const FORBIDDEN = /[\u0000-\u001f\u007f<>:"|?*\\/]/;

/** Why `name` is not a safe single path component, or undefined when it is. */
export function unsafeComponent(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'not a string';
  if (name === '') return 'empty';
  if (name === '.' || name === '..') return `"${name}"`;
  if (FORBIDDEN.test(name)) return 'a separator, a control character or a character Windows reserves';
  if (RESERVED.test(name)) return 'a name Windows reserves for a device';
  if (/[. ]$/.test(name)) return 'a trailing dot or space';
  if (name.length > 255) return 'longer than 255 characters';
  return undefined;
}

/** `name` when it is one safe path component; an UnsafeNameError naming `what` otherwise. */
export function safeComponent(name: string, what: string, where?: string): string {
  const why = unsafeComponent(name);
  if (why)
    throw new UnsafeNameError(
      `${where ? `${where}: ` : ''}refusing ${what} ${JSON.stringify(name)} as a file name (${why})`,
    );
  return name;
}

/** `name` when every "/"-separated component of it is safe (a file in a subfolder, a revision like "refs/pr/1"). */
export function safeRelativePath(name: string, what: string, where?: string): string {
  const refuse = (why: string) =>
    new UnsafeNameError(
      `${where ? `${where}: ` : ''}refusing ${what} ${JSON.stringify(name)} as a path (${why})`,
    );
  if (typeof name !== 'string' || name === '') throw refuse('empty');
  for (const part of name.split('/')) {
    const why = unsafeComponent(part);
    if (why) throw refuse(why);
  }
  return name;
}
