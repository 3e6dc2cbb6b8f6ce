/**
 * The safety-net sweep of the inbox (schedule.rescan): network shares do not report changes made
 * by other machines (PITFALLS §2.9) and a deleted-and-recreated inbox can silence the watcher
 * (PITFALLS §2.6). Every candidate name found goes through the watcher's own checks — links,
 * FIFOs and other entries that are not regular files included, so that they are refused there.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { isCandidateName } from '../pipeline/watch.js';

export async function scanInbox(inbox: string): Promise<string[]> {
  await mkdir(inbox, { recursive: true, mode: 0o700 }); // recreated if someone deleted it
  const entries = await readdir(inbox, { withFileTypes: true });
  return entries.filter((e) => !e.isDirectory() && isCandidateName(e.name)).map((e) => path.join(inbox, e.name));
}
