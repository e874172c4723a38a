// Numbers and text as the page writes them.

export const fmtMs = (ms: number | undefined): string =>
  ms === undefined ? '–' : ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`;

export const fmtBytes = (b: number): string =>
  b >= 2 ** 30
    ? `${(b / 2 ** 30).toFixed(2)} GiB`
    : b >= 2 ** 20
      ? `${(b / 2 ** 20).toFixed(1)} MiB`
      : `${(b / 1024).toFixed(0)} KiB`;

export const fmtCount = (n: number): string =>
  n >= 1e9
    ? `${(n / 1e9).toFixed(2)} B`
    : n >= 1e6
      ? `${(n / 1e6).toFixed(1)} M`
      : n >= 1e3
        ? `${(n / 1e3).toFixed(1)} k`
        : String(n);

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
