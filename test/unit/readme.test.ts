import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeConfigKeys } from '../../src/config/docs.js';
import { ERROR_CODES } from '../../src/errors.js';
import { README, renderReadme } from '../../scripts/docs.js';

const readme = readFileSync(README, 'utf8');

describe('README', () => {
  it('is up to date with the config schema and the error registry (run `npm run docs`)', () => {
    expect(readme).toBe(renderReadme(readme));
  });

  it('documents every configuration key and every error code', () => {
    for (const { key, description } of describeConfigKeys()) {
      expect(readme).toContain(`\`${key}\``);
      expect(description, `${key} needs a description in the schema`).not.toBe('');
    }
    for (const code of Object.keys(ERROR_CODES)) expect(readme).toContain(`\`${code}\``);
  });

  it('opens with the two commands a newcomer runs', () => {
    const firstBlock = readme.slice(0, 1500);
    expect(firstBlock).toContain('npm ci && npm start');
    expect(firstBlock).toContain('npm ci && npm test');
  });
});
