/**
 * Secrets never leave the process: database URLs are shown with their password replaced.
 */

/** `mysql://app:s3cret@db:3306/users` → `mysql://app:***@db:3306/users`. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not a URL we can parse: hide anything between "//user:" and "@" by hand.
    return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
  }
}

/**
 * `targets[N].auth` and everything under it: never shown, even when wrong — a secret written where
 * the object belongs (`"auth": "Bearer eyJ…"`) is still a secret.
 */
export function isTargetSecret(keyPath: readonly (string | number)[]): boolean {
  const [root, , auth] = keyPath;
  return root === 'targets' && auth === 'auth';
}
