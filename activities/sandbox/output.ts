/**
 * Captures a command's combined output without trusting its size: the log file keeps at most
 * `fileCap` bytes, memory keeps only a short tail, and every byte is counted.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import type { ArtifactRef } from '../../core/commands.ts';

export const TAIL_BYTES = 4096;

export class OutputCapture {
  private readonly hash = createHash('sha256');
  private file: WriteStream | null = null;
  private stored = 0;
  private total = 0;
  private tail: Buffer = Buffer.alloc(0);

  private constructor(
    private readonly path: string | null,
    private readonly fileCap: number,
    private readonly tailCap: number,
  ) {}

  static async open(path: string | null, fileCap: number, tailCap = TAIL_BYTES): Promise<OutputCapture> {
    const capture = new OutputCapture(path, fileCap, tailCap);
    if (path) {
      await mkdir(dirname(path), { recursive: true });
      capture.file = createWriteStream(path, { flags: 'w' });
    }
    return capture;
  }

  get bytes(): number {
    return this.total;
  }

  get truncated(): boolean {
    return this.total > this.fileCap;
  }

  write(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.stored < this.fileCap) {
      const kept = chunk.subarray(0, this.fileCap - this.stored);
      this.stored += kept.length;
      this.hash.update(kept);
      this.file?.write(kept);
    }
    this.tail =
      this.tail.length + chunk.length <= this.tailCap
        ? Buffer.concat([this.tail, chunk])
        : Buffer.concat([this.tail, chunk]).subarray(-this.tailCap);
  }

  /** A writable both stdout and stderr can be piped into (interleaved as they arrive). */
  sink(): Writable {
    return new Writable({
      write: (chunk: Buffer, _enc, done) => {
        this.write(chunk);
        done();
      },
    });
  }

  /** The tail as text: invalid UTF-8 replaced, a cut first character dropped. */
  tailText(): string {
    const text = this.tail.toString('utf8');
    const cut = this.total > this.tail.length ? text.replace(/^[^\n]*\n?/, '') : text;
    return (this.total > this.tail.length ? `[… ${this.total - this.tail.length} bytes before this]\n` : '') + cut;
  }

  async close(note?: string): Promise<ArtifactRef | null> {
    if (!this.file || !this.path) return null;
    const file = this.file;
    let trailer = '';
    if (this.truncated)
      trailer += `\n[lockstep: output truncated: ${this.total} bytes written, ${this.fileCap} kept]\n`;
    if (note) trailer += `\n[lockstep: ${note}]\n`;
    const bytes = Buffer.from(trailer);
    this.hash.update(bytes);
    await new Promise<void>((resolve, reject) =>
      file.end(bytes, (err?: Error | null) => (err ? reject(err) : resolve())),
    );
    // The reference names exactly the file's bytes, so a reader can verify what it got.
    return { path: this.path, sha256: this.hash.digest('hex'), bytes: this.stored + bytes.length };
  }
}
