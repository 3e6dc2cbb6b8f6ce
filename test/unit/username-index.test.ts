import { describe, expect, it } from 'vitest';
import { UsernameIndex } from '../../src/domain/username-index.js';

describe('UsernameIndex', () => {
  it('answers like a Map for 200,000 usernames, across every growth of its arrays', () => {
    const index = new UsernameIndex();
    const reference = new Map<string, number>();
    // Mixed lengths and alphabets, so arena, entry arrays and table all grow many times.
    const name = (i: number) => (i % 3 === 0 ? `user${i}` : i % 3 === 1 ? `ü${i}.ÿ` : `名前${i}@例え.jp`);
    for (let i = 0; i < 200_000; i++) {
      index.set(name(i), i + 2);
      reference.set(name(i), i + 2);
    }
    expect(index.size).toBe(reference.size);
    // Every one, not a sample: a username placed wrongly as the table grows is one in thousands.
    const wrong = [...reference].filter(([username, row]) => index.get(username) !== row);
    expect(wrong).toEqual([]);
    for (const absent of ['user1', 'user', 'ü1.', 'ü1.ÿx', '名前2@例え.j', '', 'USER0'])
      expect(index.get(absent)).toBe(reference.get(absent));
  });

  it('keeps the first row of a username set twice', () => {
    const index = new UsernameIndex().set('jdoe', 5).set('jdoe', 9);
    expect(index.get('jdoe')).toBe(5);
    expect(index.size).toBe(1);
  });

  it('tells apart strings whose stored bytes could meet: escapes, prefixes, the empty string', () => {
    // 'ÿ' is U+00FF, the escape byte itself; 'Ā' is U+0100 = escape, 0x01, 0x00.
    const names = ['ÿ', 'Ā', '\u00ff\u0001\u0000', 'ÿÿ', 'a', 'ab', 'aĀ', 'a\u00ff', '', 'ȁ', '\u0001\u0001'];
    const index = new UsernameIndex();
    names.forEach((n, i) => index.set(n, i + 1));
    names.forEach((n, i) => expect(index.get(n), JSON.stringify(n)).toBe(i + 1));
    expect(index.size).toBe(names.length);
  });
});
