/** Time as the database stores it: ISO-8601 UTC with milliseconds (PITFALLS §4.8). */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

export const isoNow = (clock: Clock = systemClock): string => clock().toISOString();

/** Splits a list into chunks of at most `size` (batch limits per dialect, PITFALLS §4.4). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
