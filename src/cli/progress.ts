// A one-line progress display on a terminal (redrawn in place), or a line every so often when
// the output is a file or a pipe, so logs stay readable.
export class Progress {
  private lastLine = 0;
  private readonly tty: boolean;
  private shown = false;

  constructor(
    private total: number,
    private out: NodeJS.WriteStream = process.stderr,
    private every = Math.max(1, Math.floor(total / 20)),
  ) {
    this.tty = Boolean(out.isTTY) && !process.env.CI;
  }

  update(done: number, text: string, etaS?: number): void {
    const pct = this.total ? done / this.total : 1;
    const eta = etaS !== undefined && Number.isFinite(etaS) ? ` | ETA ${fmtDuration(etaS)}` : '';
    if (this.tty) {
      const width = 24;
      const fill = Math.round(pct * width);
      const bar = '█'.repeat(fill) + '░'.repeat(width - fill);
      const now = Date.now();
      if (now - this.lastLine < 80 && done < this.total) return;
      this.lastLine = now;
      this.out.write(`\r\x1b[2K${bar} ${String(done).padStart(String(this.total).length)}/${this.total} ${text}${eta}`);
      this.shown = true;
    } else if (done % this.every === 0 || done === this.total || done === 1) {
      this.out.write(`${String(done).padStart(String(this.total).length)}/${this.total} ${text}${eta}\n`);
    }
  }

  /** A line that should stay (a validation loss, a warning), printed above the bar. */
  log(line: string): void {
    if (this.tty && this.shown) this.out.write('\r\x1b[2K');
    this.out.write(line + '\n');
  }

  done(): void {
    if (this.tty && this.shown) this.out.write('\n');
    this.shown = false;
  }
}

export function fmtDuration(s: number): string {
  if (s < 60) return `${Math.max(0, Math.round(s))}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
