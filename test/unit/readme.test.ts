import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeConfigKeys } from '../../src/config/docs.js';
import { ERROR_CODES } from '../../src/errors.js';
import { GENERATED, README, ROOT, renderDoc } from '../../scripts/docs.js';

const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const readme = readFileSync(README, 'utf8');
const docs = readdirSync(path.join(ROOT, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/${name}`);

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
const anchorsIn = (text: string) => new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1]!)));

describe('README and docs/', () => {
  it('are up to date with the config schema and the error registry (run `npm run docs`)', () => {
    for (const file of Object.keys(GENERATED)) expect(read(file), file).toBe(renderDoc(file, read(file)));
  });

  it('document every configuration key and every error code', () => {
    const configuration = read('docs/configuration.md');
    for (const { key, description } of describeConfigKeys()) {
      expect(configuration).toContain(`\`${key}\``);
      expect(description, `${key} needs a description in the schema`).not.toBe('');
    }
    const errors = read('docs/errors.md');
    for (const code of Object.keys(ERROR_CODES)) expect(errors).toContain(`\`${code}\``);
    expect(readme).toContain('(docs/configuration.md)');
    expect(readme).toContain('(docs/errors.md)');
  });

  it('opens with the two commands a newcomer runs', () => {
    const firstBlock = readme.slice(0, 1500);
    expect(firstBlock).toContain('npm ci && npm start');
    expect(firstBlock).toContain('npm ci && npm test');
  });

  it('keep the README to at most 610 lines, the rest in docs/', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(610);
  });

  it('link only to files and headings that exist', () => {
    for (const file of ['README.md', ...docs]) {
      const text = read(file);
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue; // an absolute URL
        const [filePart, anchor] = target!.split('#') as [string, string | undefined];
        const linked = filePart === '' ? file : path.posix.join(path.posix.dirname(file), filePart);
        expect(existsSync(path.join(ROOT, linked)), `${file} links to ${target}`).toBe(true);
        if (anchor !== undefined && statSync(path.join(ROOT, linked)).isFile()) {
          expect(anchorsIn(read(linked)), `${file} links to ${target}`).toContain(anchor);
        }
      }
    }
  });

  it('say what the software is and does, not who built it when (no work-session diary)', () => {
    const ordinal =
      '(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|\\w+teenth|twentieth|this|that|earlier|previous|last)';
    const diary = new RegExp(`\\b${ordinal} sessions?\\b`, 'i');
    const sources = ['bench', 'scripts'].flatMap((dir) =>
      readdirSync(path.join(ROOT, dir)).map((name) => `${dir}/${name}`),
    );
    for (const file of ['README.md', ...docs, ...sources]) {
      if (!statSync(path.join(ROOT, file)).isFile()) continue;
      expect(diary.exec(read(file))?.[0], file).toBeUndefined();
    }
  });
});
