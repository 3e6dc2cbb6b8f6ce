import { describe, expect, it } from 'vitest';
import { catalogKey, cleanCatalogName } from '../../src/domain/catalog-name.js';
import { compileUsernamePattern, isValidUsername, normaliseUsername } from '../../src/domain/username.js';

describe('normaliseUsername', () => {
  // The cases of SPEC §1: trimmed, NFC, lower-cased; accents kept.
  it.each([
    ['JDoe', 'jdoe'],
    ['  jdoe  ', 'jdoe'],
    ['JOSE', 'jose'],
    ['José', 'josé'],
    ['Jose\u0301', 'josé'], // NFD input becomes the NFC form
    ['\u200Bjdoe\uFEFF', 'jdoe'], // zero-width characters pasted from web pages
    ['ÅSA.Öberg', 'åsa.öberg'],
  ])('normalises %j to %j', (input, expected) => {
    expect(normaliseUsername(input)).toBe(expected);
  });

  it('keeps José and jose distinct', () => {
    expect(normaliseUsername('José')).not.toBe(normaliseUsername('jose'));
  });

  it('accepts the default pattern’s characters and rejects others', () => {
    const pattern = compileUsernamePattern('^[\\p{L}\\p{N}._@-]{1,64}$');
    for (const ok of ['jdoe', 'j.doe', 'j_doe', 'jdoe@example.com', 'josé', 'a-b', '123'])
      expect(isValidUsername(ok, pattern)).toBe(true);
    for (const bad of ['', 'j doe', 'jdoe;drop', '<script>', 'a'.repeat(65), 'tab\there', '=cmd'])
      expect(isValidUsername(bad, pattern)).toBe(false);
  });
});

describe('catalogue names', () => {
  it('matches case- and space-insensitively but keeps the display form', () => {
    expect(catalogKey('  Human   Resources ')).toBe('human resources');
    expect(catalogKey('HUMAN RESOURCES')).toBe(catalogKey('human resources'));
    expect(cleanCatalogName('  Human   Resources ')).toBe('Human Resources');
  });
});
