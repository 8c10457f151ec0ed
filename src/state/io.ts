/**
 * The file operations of a run's bookkeeping (the state directory, the config cache, the
 * restic version cache), with the signatures of `node:fs/promises`, in one of two modes:
 *
 * - asynchronous, the default (the library, the daemon): each operation is node's own, on
 *   libuv's thread pool, so a slow or hung disk never stalls the daemon's status page;
 * - synchronous, for a one-shot command (`useSynchronousIo()`, which the CLI calls for every
 *   command but `daemon` and `demo`): the same operation as a direct system call. A warm
 *   backup makes ~170 of them on small local files; through the thread pool each costs
 *   ~45 µs, directly ~4 µs (`node bench/fs-ops.mjs`; BENCHMARKS.md, third round), and the
 *   process has nothing else to do meanwhile.
 *
 * Either way the caller gets a promise, and an error is a rejection.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';

let isSync = false;

/** Makes every operation of this module synchronous for the rest of the process. */
export function useSynchronousIo(on = true): void {
  isSync = on;
}

/** `fn`'s result as a promise (its throw as a rejection), run now. */
function now<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}

type Fn = (...args: never[]) => unknown;

/** The promise API's `name`, or its synchronous twin in synchronous mode. */
function either<A extends Fn>(asyncFn: A, syncFn: Fn): A {
  return ((...args: never[]) =>
    isSync ? now(() => syncFn(...(args as never[]))) : asyncFn(...args)) as unknown as A;
}

export const access = either(fsp.access, fs.accessSync);
export const chmod = either(fsp.chmod, fs.chmodSync);
export const link = either(fsp.link, fs.linkSync);
export const lstat = either(fsp.lstat, fs.lstatSync);
export const mkdir = either(fsp.mkdir, fs.mkdirSync);
export const readdir = either(fsp.readdir, fs.readdirSync);
export const readFile = either(fsp.readFile, fs.readFileSync);
export const readlink = either(fsp.readlink, fs.readlinkSync);
export const realpath = either(fsp.realpath, fs.realpathSync);
export const rename = either(fsp.rename, fs.renameSync);
export const rm = either(fsp.rm, fs.rmSync);
export const stat = either(fsp.stat, fs.statSync);
export const unlink = either(fsp.unlink, fs.unlinkSync);
export const { constants } = fs;

/** The part of node's `FileHandle` the bookkeeping uses. */
export interface FileHandle {
  readonly fd: number;
  stat(): Promise<fs.Stats>;
  read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesRead: number }>;
  readFile(): Promise<Buffer>;
  readFile(encoding: BufferEncoding): Promise<string>;
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  writeFile(data: string | Uint8Array): Promise<void>;
  truncate(length: number): Promise<void>;
  chmod(mode: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** A descriptor opened synchronously, with the methods of {@link FileHandle}. */
class SyncFileHandle implements FileHandle {
  constructor(readonly fd: number) {}
  stat(): Promise<fs.Stats> {
    return now(() => fs.fstatSync(this.fd));
  }
  read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number | null,
  ): Promise<{ bytesRead: number }> {
    return now(() => ({ bytesRead: fs.readSync(this.fd, buffer, offset, length, position) }));
  }
  readFile(): Promise<Buffer>;
  readFile(encoding: BufferEncoding): Promise<string>;
  readFile(encoding?: BufferEncoding): Promise<Buffer | string> {
    return now(() => (encoding ? fs.readFileSync(this.fd, encoding) : fs.readFileSync(this.fd)));
  }
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }> {
    return now(() => ({ bytesWritten: fs.writeSync(this.fd, buffer, offset, length) }));
  }
  writeFile(data: string | Uint8Array): Promise<void> {
    return now(() => fs.writeFileSync(this.fd, data));
  }
  truncate(length: number): Promise<void> {
    return now(() => fs.ftruncateSync(this.fd, length));
  }
  chmod(mode: number): Promise<void> {
    return now(() => fs.fchmodSync(this.fd, mode));
  }
  sync(): Promise<void> {
    return now(() => fs.fsyncSync(this.fd));
  }
  close(): Promise<void> {
    return now(() => fs.closeSync(this.fd));
  }
}

/** `fsPromises.open`; in synchronous mode a {@link FileHandle} over `openSync`'s descriptor. */
export function open(path: string, flags?: string | number, mode?: number): Promise<FileHandle> {
  if (!isSync) return fsp.open(path, flags, mode) as Promise<FileHandle>;
  return now(() => new SyncFileHandle(fs.openSync(path, flags ?? 'r', mode)));
}
