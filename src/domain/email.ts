/**
 * E-mail addresses (SPEC §1): validated by the `validator` library, stored lower-cased.
 * Excel turns typed addresses into mailto: links; the reader keeps the text, but a pasted
 * `mailto:` prefix is stripped here too.
 */
import { requirePackage } from '../require-package.js';

// The one validator function used, not the library's index (which loads its ~110 modules, ~40 ms).
// A CommonJS module whose types declare an ES default export: the function is on `.default` (it sets that too).
const isEmail: typeof import('validator/lib/isEmail.js').default = requirePackage('validator/lib/isEmail.js').default;

export const MAX_EMAIL_LENGTH = 320;

/**
 * The plain ASCII addresses nearly every row holds, in a form validator.isEmail (with the options
 * below) always accepts: dot-separated atoms of its local-part characters, at most 64 of them
 * (checked below), and host labels of letters, digits and inner hyphens (at most 63) ending in a
 * letters-only TLD. Anything else goes to validator, which decides; so the answer is always
 * validator's, only faster (its option merging, byte-length and FQDN checks were ~0.2 s of a
 * 100k-row import). A test compares the two on generated and hostile addresses.
 */
const PLAIN_ADDRESS =
  /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const MAX_PLAIN_LENGTH = 254; // validator's own limit on the whole address
const MAX_LOCAL_PART = 64;

/** The stored form, or undefined when the text is not a valid address. */
export function normaliseEmail(text: string): string | undefined {
  const candidate = text
    .trim()
    .replace(/^mailto:/i, '')
    .normalize('NFC')
    .toLowerCase();
  if (candidate.length > MAX_EMAIL_LENGTH) return undefined;
  if (candidate.length <= MAX_PLAIN_LENGTH && PLAIN_ADDRESS.test(candidate) && candidate.indexOf('@') <= MAX_LOCAL_PART)
    return candidate;
  return isEmailByValidator(candidate) ? candidate : undefined;
}

/** validator's verdict on an already-normalised candidate (exported for the agreement test). */
export function isEmailByValidator(candidate: string): boolean {
  return isEmail(candidate, { allow_utf8_local_part: true, require_tld: true, allow_ip_domain: false });
}
