// A one-line progress bar on stderr, drawn only when stderr is a terminal: piped or redirected output
// (and --json runs) stay free of control characters. Hand-written rather than a dependency because it
// is a dozen lines and the CLI ships inside the library package.

const BAR_WIDTH = 24;

export interface Progress {
  /** One more step done; `label` says what is running now. */
  tick(label: string): void;
  done(): void;
}

export function progressBar(total: number, enabled: boolean): Progress {
  const stream = process.stderr;
  if (!enabled || !stream.isTTY || total <= 0) return { tick() {}, done() {} };
  let count = 0;
  const draw = (label: string) => {
    const filled = Math.round((count / total) * BAR_WIDTH);
    const text = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${count}/${total} ${label}`;
    stream.write(`\r${text.slice(0, Math.max(10, (stream.columns || 80) - 1))}\x1b[K`);
  };
  draw('starting');
  return {
    tick(label) {
      count = Math.min(total, count + 1);
      draw(label);
    },
    done() {
      stream.write('\r\x1b[K');
    },
  };
}
