/**
 * Which local processes hold a file open for writing, as /proc tells (Linux).
 *
 * A rename does not stop a writer: its descriptor follows the file into processing/, so a copy
 * that pauses longer than watch.stableMs keeps writing into the claimed file. Each process's
 * descriptors are matched by inode (`stat` of /proc/PID/fd/N follows the descriptor itself, so a
 * renamed or unlinked name does not hide it) and their access mode read from /proc/PID/fdinfo/N.
 *
 * What /proc cannot tell: processes of other accounts when the daemon is not root (their fd
 * folders are unreadable; counted in `hidden`), processes in other PID namespaces (the host,
 * other containers), writers on other machines (network shares), and writes through a shared
 * memory mapping whose descriptor was closed. The caller's quiet period and the fingerprint
 * check after the import cover those.
 */
import { readdir, readFile, readlink, stat } from 'node:fs/promises';

export interface Writer {
  pid: number;
  /** The program's name, e.g. `cp`: the base name of its argv[0], else /proc/PID/comm. */
  command: string;
  fd: number;
}

export interface FileId {
  dev: bigint;
  ino: bigint;
}

export interface WriterScan {
  writers: Writer[];
  /** Processes whose descriptors could not be read (another account's, when not root). */
  hidden: number;
}

const O_ACCMODE = 0o3;
const O_RDONLY = 0o0;

/** Processes holding any of `files` open for writing (O_WRONLY or O_RDWR). */
export async function findWriters(files: readonly FileId[], procRoot = '/proc'): Promise<WriterScan> {
  const result: WriterScan = { writers: [], hidden: 0 };
  if (files.length === 0) return result;
  const pids = await readdir(procRoot).catch(() => [] as string[]);
  for (const pid of pids) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = await readdir(`${procRoot}/${pid}/fd`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EACCES' || (error as NodeJS.ErrnoException).code === 'EPERM')
        result.hidden++;
      continue; // ENOENT: the process ended meanwhile
    }
    for (const fd of fds) {
      const writer = await writerAt(procRoot, pid, fd, files);
      if (writer) result.writers.push(writer);
    }
  }
  return result;
}

async function writerAt(
  procRoot: string,
  pid: string,
  fd: string,
  files: readonly FileId[],
): Promise<Writer | undefined> {
  const link = `${procRoot}/${pid}/fd/${fd}`;
  // Sockets, pipes and anonymous inodes read as `socket:[…]`, `pipe:[…]`, `anon_inode:…`: skip them unstat'ed.
  const target = await readlink(link).catch(() => '');
  if (!target.startsWith('/')) return undefined;
  const info = await stat(link, { bigint: true }).catch(() => undefined);
  if (!info || !files.some((f) => f.dev === info.dev && f.ino === info.ino)) return undefined;
  const fdinfo = await readFile(`${procRoot}/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
  const flags = /^flags:\s*([0-7]+)/m.exec(fdinfo)?.[1];
  // Unknown flags (the descriptor closed meanwhile, an unusual kernel): not proof of a writer.
  if (flags === undefined || (parseInt(flags, 8) & O_ACCMODE) === O_RDONLY) return undefined;
  return { pid: Number(pid), command: await commandOf(procRoot, pid), fd: Number(fd) };
}

/**
 * The name an operator knows the process by. /proc/PID/comm is the main thread's name, which
 * programs may rename (Node.js 22 and later call theirs `MainThread`), so argv[0] comes first.
 */
async function commandOf(procRoot: string, pid: string): Promise<string> {
  const cmdline = await readFile(`${procRoot}/${pid}/cmdline`, 'utf8').catch(() => '');
  const argv0 = cmdline.split('\0', 1)[0] ?? '';
  const name = argv0.split('/').at(-1)?.split(' ', 1)[0];
  if (name) return name;
  return (await readFile(`${procRoot}/${pid}/comm`, 'utf8').catch(() => '?')).trim();
}

/** "pid 123 (cp)", "pid 123 (cp) and pid 456 (rsync)", for logs and /healthz. */
export function describeWriters(writers: readonly Writer[]): string {
  const unique = [...new Map(writers.map((w) => [w.pid, w])).values()];
  return unique.map((w) => `pid ${w.pid} (${w.command})`).join(' and ');
}
