/**
 * E-mail addresses (SPEC §1): validated by the `validator` library, stored lower-cased.
 * Excel turns typed addresses into mailto: links; the reader keeps the text, but a pasted
 * `mailto:` prefix is stripped here too.
 */
import validator from 'validator';

export const MAX_EMAIL_LENGTH = 320;

/** The stored form, or undefined when the text is not a valid address. */
export function normaliseEmail(text: string): string | undefined {
  const candidate = text.trim().replace(/^mailto:/i, '').normalize('NFC').toLowerCase();
  if (candidate.length > MAX_EMAIL_LENGTH) return undefined;
  return validator.isEmail(candidate, { allow_utf8_local_part: true, require_tld: true, allow_ip_domain: false }) ? candidate : undefined;
}
