// Progress on the command line: a bar redrawn in place on a terminal (stderr is a TTY), and on
// anything else (a log file, a CI job) one line per file or step when it completes.

const BAR = 24;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export class Progress {
  private lastDraw = 0;
  private drawn = false;
  private readonly finished = new Set<string>();
  private lastLog = Date.now();

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
    readonly tty = Boolean(stream.isTTY),
  ) {}

  /**
   * `done` of `total` of `what` (bytes when `bytes`, else items); `detail` (a rate, an ETA) follows.
   * Off a terminal, a step with a detail also gets a line every 10 s (a long job's log shows it move).
   */
  update(what: string, done: number, total: number, bytes = true, detail?: string): void {
    const complete = total > 0 && done >= total;
    const suffix = detail ? ` (${detail})` : '';
    if (!this.tty) {
      if (complete && !this.finished.has(what)) {
        this.finished.add(what);
        this.log(`${what}: ${bytes ? formatBytes(total) : `${total}`}${suffix}`);
      } else if (!complete && detail && Date.now() - this.lastLog >= 10_000) {
        this.lastLog = Date.now();
        this.log(`${what}: ${done} / ${total}${suffix}`);
      }
      return;
    }
    const now = Date.now();
    if (!complete && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const fraction = total > 0 ? Math.min(1, done / total) : 0;
    const filled = Math.round(fraction * BAR);
    const amount = bytes ? `${formatBytes(done)} / ${formatBytes(total)}` : `${done} / ${total}`;
    const columns = this.stream.columns || 100;
    const line = `${what} [${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${amount}${suffix}`;
    this.stream.write(`\r\x1b[2K${line.slice(0, columns - 1)}`);
    this.drawn = true;
    if (complete) this.end();
  }

  /** Leaves the bar's line (a message printed next starts on its own line). */
  end(): void {
    if (this.tty && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
