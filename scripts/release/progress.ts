/**
 * The release progress display: one line when a step starts, one when it ends, with the
 * time it took. Plain lines rather than a redrawn bar, so CI logs read the same.
 */
export class ProgressDisplay {
  private readonly started = performance.now();

  constructor(private readonly out: NodeJS.WritableStream = process.stderr) {}

  /** Runs `work` as a named step and reports it; failures are reported and rethrown. */
  async step<T>(name: string, work: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    this.line(`▶ ${name}`);
    try {
      const result = await work();
      this.line(`✔ ${name} (${seconds(performance.now() - t0)})`);
      return result;
    } catch (err) {
      this.line(`✘ ${name} failed after ${seconds(performance.now() - t0)}`);
      throw err;
    }
  }

  /** A detail inside the running step. */
  note(message: string): void {
    this.line(`  · ${message}`);
  }

  total(): string {
    return seconds(performance.now() - this.started);
  }

  private line(text: string): void {
    this.out.write(`[${this.total().padStart(6)}] ${text}\n`);
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
