// Atomic file replacement and the clean-up of what a killed writer leaves behind. node:fs is imported
// dynamically inside each function so that @myriad/core still bundles for browsers.
//
// A writer puts its bytes in `<path>.tmp-<pid>-<random>` and renames that over `<path>`. A process
// killed between the two leaves the temp file; nothing else would ever remove it, so the next write
// (and readers that want to, such as checkpoint loading) call removeStaleTempFiles.

/** Temp files this process is writing now; never stale, even though their pid is alive. */
const inFlight = new Set<string>();

/** The temp file name for `path` written by this process. */
function tempName(path: string): string {
  return `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Whether a process with this id exists (a pid reused by an unrelated process counts as alive: its file stays). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Removes the temp files that writers of `path` left when they died mid-write: those named
 * `<path>.tmp-<pid>-<random>` whose process no longer runs, or that are this process's but not
 * being written now. Files of live writers are kept. Returns the paths removed; never throws for
 * a file that vanished meanwhile.
 */
export async function removeStaleTempFiles(path: string): Promise<string[]> {
  const fs = await import('node:fs/promises');
  const { basename, dirname, join } = await import('node:path');
  const dir = dirname(path);
  const prefix = `${basename(path)}.tmp-`;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return []; // no directory, no leftovers
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-[0-9a-z]+$/.exec(name.slice(prefix.length));
    if (m === null) continue; // not one of ours
    const full = join(dir, name);
    const pid = Number(m[1]);
    const stale = pid === process.pid ? !inFlight.has(full) : !processAlive(pid);
    if (!stale) continue;
    await fs.rm(full, { force: true });
    removed.push(full);
  }
  return removed;
}

/**
 * Writes `bytes` to `path` atomically: a temp file in the same directory is written, fsynced and
 * renamed over the target, so readers see the old file or the new one, never a torn one. Temp
 * files that dead writers of `path` left behind are removed afterwards.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const fs = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const tmp = tempName(path);
  inFlight.add(tmp);
  try {
    const handle = await fs.open(tmp, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => undefined); // keep the original error
    throw e;
  } finally {
    inFlight.delete(tmp);
  }
  // Persist the rename itself. Best effort: some platforms (Windows) cannot open a directory.
  try {
    const dir = await fs.open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    /* the file is already in place; only durability across a power cut is weaker */
  }
  // After the new file is in place, so a failure here costs nothing but a leftover.
  await removeStaleTempFiles(path).catch(() => undefined);
}
