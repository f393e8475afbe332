// The dnstap log file of one worker: bounded and never in the way of an answer. Frames go to a
// write stream; while more than `maxBufferBytes` wait to reach the disk (a slow disk, a full
// one), new frames are dropped and counted instead of queued, and a write error stops the log,
// never the server. Each worker writes its own file (a Frame Streams file has one writer).
import { createWriteStream, type WriteStream } from 'node:fs';
import { fstrmStart, fstrmStop } from './dnstap.js';

export class DnstapWriter {
  private readonly stream: WriteStream;
  private failed?: Error;
  /** Frames of this turn of the event loop, written together when it ends (one write, not one per frame). */
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private readonly flush = () => {
    const b = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    if (!this.failed && b.length) this.stream.write(b.length === 1 ? (b[0] as Buffer) : Buffer.concat(b));
  };
  written = 0;
  dropped = 0;

  constructor(
    readonly file: string,
    private readonly maxBufferBytes: number,
    onError: (err: Error) => void,
  ) {
    this.stream = createWriteStream(file, { flags: 'w', mode: 0o640 });
    this.stream.on('error', (err) => {
      if (!this.failed) onError(err);
      this.failed = err;
    });
    this.stream.write(fstrmStart());
  }

  write(frame: Buffer): void {
    if (this.failed || this.stream.writableLength + this.batchBytes > this.maxBufferBytes) {
      this.dropped++;
      return;
    }
    if (this.batch.length === 0) setImmediate(this.flush);
    this.batch.push(frame);
    this.batchBytes += frame.length;
    this.written++;
  }

  /** Ends the file with a STOP frame; resolves when it is on disk (or the log had failed). */
  close(): Promise<void> {
    this.flush();
    if (this.failed) return Promise.resolve();
    return new Promise((resolve) => {
      this.stream.end(fstrmStop(), () => resolve());
      this.stream.once('error', () => resolve());
    });
  }
}
