/**
 * The `row` codes of the error registry (error-codes.ts, which spreads them into ERROR_CODES in
 * this place): a row that fails is returned as data and reported, and the other rows go on.
 */
import type { CodeInfo } from './error-codes.js';

export const ROW_CODES = {
  ROW_PROTECTED_USER: {
    kind: 'row',
    message: 'This user is protected (safety.protectedUsers): no import may create or change it.',
    help: 'Leave the row out; change a protected account by hand, or take it out of safety.protectedUsers first.',
  },
  ROW_PROTECTED_ROLE: {
    kind: 'row',
    message: 'This row would grant or remove a protected role or group (safety.protectedRoles).',
    help: 'Leave that role or group as it is in the row; grant or remove it by hand, or take it out of safety.protectedRoles first.',
  },
  ROW_USERNAME_MISSING: {
    kind: 'row',
    message: 'The Username cell is empty.',
    help: 'Fill in the Username; it decides whether the user is created or updated.',
  },
  ROW_USERNAME_INVALID: {
    kind: 'row',
    message: 'The username has characters or a length that import.usernamePattern does not allow.',
    help: 'Use 1–64 letters, digits and . _ @ - (or change import.usernamePattern).',
  },
  ROW_DUPLICATE_USERNAME: {
    kind: 'row',
    message: 'The username appears earlier in the same file.',
    help: 'Keep one row per user; merge the two rows.',
  },
  ROW_NAME_MISSING: {
    kind: 'row',
    message: 'A new user needs a Name.',
    help: 'Fill in the Name cell for this new user.',
  },
  ROW_INVALID_EMAIL: {
    kind: 'row',
    message: 'The e-mail address is not valid.',
    help: 'Write the address as name@example.com, or leave the cell blank to keep the stored one.',
  },
  ROW_INVALID_YES_NO: {
    kind: 'row',
    message: 'A Yes/No cell has another value.',
    help: 'Write Yes or No (also Y/N, True/False, 1/0, Sim/Não), or leave it blank to keep the stored value.',
  },
  ROW_PASSWORD_TOO_SHORT: {
    kind: 'row',
    message: 'The password is shorter than import.passwordMinLength.',
    help: 'Use a longer password, or leave the cell blank to keep the current one.',
  },
  ROW_UNKNOWN_ROLE: {
    kind: 'row',
    message: 'The row names roles that do not exist.',
    help: 'Create them with `usersync roles add <name..>` (or catalog.roles in config), or fix the spelling.',
  },
  ROW_UNKNOWN_GROUP: {
    kind: 'row',
    message: 'The row names user groups that do not exist.',
    help: 'Create them with `usersync groups add <name..>`, set import.createMissingGroups, or fix the spelling.',
  },
  ROW_CELL_ERROR: {
    kind: 'row',
    message: 'A cell holds a spreadsheet error (such as #N/A) or a formula without a saved result.',
    help: 'Fix the formula in the spreadsheet (or paste the values), save, and drop the file in again.',
  },
  ROW_VALUE_TOO_LONG: {
    kind: 'row',
    message: 'A cell is longer than the column allows.',
    help: 'Shorten the value; see the README for each column’s limit.',
  },
  ROW_INVALID_VALUE: {
    kind: 'row',
    message: 'A cell holds a value that is not allowed.',
    help: 'Remove control characters and check the value against the column’s rule in the README.',
  },
  ROW_CANNOT_CLEAR: {
    kind: 'row',
    message: 'The clear marker is in a column that cannot be emptied.',
    help: 'Only E-mail, Phone, Department, Roles and User group can be cleared (import.clearMarker); leave other cells blank to keep the stored value.',
  },
} as const satisfies Record<string, CodeInfo>;
