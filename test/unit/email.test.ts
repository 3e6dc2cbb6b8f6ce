import { describe, expect, it } from 'vitest';
import { isEmailByValidator, normaliseEmail } from '../../src/domain/email.js';

/** A small deterministic PRNG (mulberry32), so a failure names an input that can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('normaliseEmail agrees with validator.isEmail', () => {
  const next = random(20261124);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const run = (alphabet: string, min: number, max: number) => {
    const length = min + Math.floor(next() * (max - min + 1));
    let text = '';
    for (let i = 0; i < length; i++) text += pick([...alphabet]);
    return text;
  };
  // Near-misses of the plain form: edge lengths, dots and hyphens at the edges, odd TLDs, quotes,
  // non-ASCII letters, full-width forms, underscores in hosts, spaces.
  const plain = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(4);
  const localAlphabet = `${plain}.._-+%!~\`{|}"é東 \uff21@`;
  const labelAlphabet = `${plain}--_é\uff21`;
  const address = () => {
    const local = next() < 0.1 ? 'a'.repeat(60 + Math.floor(next() * 8)) : run(localAlphabet, 0, 14);
    const labels = Array.from({ length: Math.floor(next() * 3.3) }, () =>
      next() < 0.05 ? 'b'.repeat(60 + Math.floor(next() * 6)) : run(labelAlphabet, 0, 10),
    );
    const tld = pick([
      'com',
      'io',
      'c',
      '1com',
      '123',
      'xn--p1ai',
      'co-m',
      'é',
      'q'.repeat(63),
      'q'.repeat(64),
      '',
      run('az09-', 1, 5),
    ]);
    const host = [...labels, tld].join('.');
    const whole = `${local}@${host}`;
    return next() < 0.05 ? whole + '.' : next() < 0.05 ? `${'c'.repeat(200)}.${whole}` : whole;
  };

  it('on 60,000 generated near-valid addresses, accepted and refused alike', () => {
    let accepted = 0;
    for (let i = 0; i < 60_000; i++) {
      const candidate = address().trim().normalize('NFC').toLowerCase();
      const ours = normaliseEmail(candidate) !== undefined;
      if (ours !== isEmailByValidator(candidate))
        expect.fail(`disagrees on ${JSON.stringify(candidate)}: ours ${ours}`);
      if (ours) accepted++;
    }
    // Both kinds were exercised, or this test proves nothing.
    expect(accepted).toBeGreaterThan(5_000);
    expect(accepted).toBeLessThan(55_000);
  });

  it.each([
    'ana@example.com',
    'a.b-c+d@sub.example.co',
    `${'a'.repeat(64)}@example.com`,
    `${'a'.repeat(65)}@example.com`,
    `a@${'b'.repeat(63)}.com`,
    `a@${'b'.repeat(64)}.com`,
    `a@${'b.'.repeat(124)}com`,
    'a..b@example.com',
    '.a@example.com',
    'a@-example.com',
    'a@example-.com',
    'a@exa_mple.com',
    'a@example.c',
    'a@example.123',
    'a@xn--p1ai.xn--p1ai',
    '"quoted"@example.com',
    'josé@example.com',
  ])('on %j', (candidate) => {
    expect(normaliseEmail(candidate) !== undefined).toBe(isEmailByValidator(candidate));
  });
});
