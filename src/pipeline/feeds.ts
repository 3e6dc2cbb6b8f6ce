/**
 * Feeds (SPEC §8): which named stream of files a file belongs to, and the guard limits it is
 * checked against. The first configured feed whose `match` glob fits the file's name owns it
 * (case-insensitive, on the name alone); a file no feed matches belongs to the built-in `inbox`.
 */
import picomatch from 'picomatch';
import { BUILT_IN_FEED, type Config } from '../config/schema.js';
import type { GuardLimits } from '../domain/guards.js';
import { fail } from '../errors.js';

export { BUILT_IN_FEED };

export type FeedConfig = Config['feeds'][number];

/** The feed a file of this name belongs to. */
export function feedOfFile(config: Readonly<Config>, fileName: string): string {
  for (const feed of config.feeds) if (matcherOf(feed.match)(fileName)) return feed.name;
  return BUILT_IN_FEED;
}

/** A feed by the name given on the command line; an unknown name is a usage error (exit 2). */
export function feedNamed(config: Readonly<Config>, name: string): string {
  if (name.toLowerCase() === BUILT_IN_FEED) return BUILT_IN_FEED;
  const found = config.feeds.find((feed) => feed.name.toLowerCase() === name.toLowerCase());
  if (found) return found.name;
  const known = [BUILT_IN_FEED, ...config.feeds.map((feed) => feed.name)].join(', ');
  throw fail('FEED_NOT_FOUND', { message: `There is no feed named "${name}". Feeds: ${known} (config "feeds").` });
}

/** The limits a feed's files are checked against: safety.limits, with the feed's own on top. */
export function limitsOf(config: Readonly<Config>, feedName: string): GuardLimits {
  const feed = config.feeds.find((candidate) => candidate.name === feedName);
  const own = Object.fromEntries(Object.entries(feed?.limits ?? {}).filter(([, value]) => value !== undefined));
  return { ...config.safety.limits, ...own } as GuardLimits;
}

const matchers = new Map<string, (name: string) => boolean>();

function matcherOf(glob: string): (name: string) => boolean {
  let matcher = matchers.get(glob);
  if (!matcher) {
    // `dot`: HR's exports may start with a dot no more than any other name; `nocase`: SPEC §8.
    matcher = picomatch(glob, { nocase: true, dot: true, basename: true });
    matchers.set(glob, matcher);
  }
  return matcher;
}
