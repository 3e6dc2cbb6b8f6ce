import { describe, expect, it } from 'vitest';
import { feedOfInboxFile, sourceOfCopy } from '../../src/app/sources.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { exitCodeFor, UsersyncError } from '../../src/errors.js';
import { feedNamed, feedOfFile, limitsOf } from '../../src/pipeline/feeds.js';

const configWith = (settings: Record<string, unknown>): Config => configSchema.parse(settings);

const config = configWith({
  feeds: [
    { name: 'workday', match: 'workday*.xlsx', limits: { deactivate: 200, mfaBypass: -1 } },
    { name: 'workday-csv', match: 'workday*', notify: ['hr-ops@example.com'] },
    { name: 'Contractors', match: 'contractors-??.csv' },
  ],
  safety: { limits: { passwordReset: 7 } },
});

function errorOf(run: () => unknown): UsersyncError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsersyncError);
    return error as UsersyncError;
  }
  throw new Error('expected an error');
}

describe('feedOfFile', () => {
  it('gives a file to the first feed whose glob matches its name', () => {
    expect(feedOfFile(config, 'workday-2026-12.xlsx')).toBe('workday'); // both match: the first wins
    expect(feedOfFile(config, 'workday-2026-12.csv')).toBe('workday-csv');
    expect(feedOfFile(config, 'contractors-07.csv')).toBe('Contractors');
  });

  it('matches case-insensitively', () => {
    expect(feedOfFile(config, 'WorkDay-Export.XLSX')).toBe('workday');
    expect(feedOfFile(config, 'CONTRACTORS-07.CSV')).toBe('Contractors');
  });

  it('gives a file no feed matches to the built-in inbox feed', () => {
    expect(feedOfFile(config, 'users.xlsx')).toBe('inbox');
    expect(feedOfFile(config, 'contractors-2026.csv')).toBe('inbox'); // ?? is two characters
    expect(feedOfFile(configWith({}), 'workday.xlsx')).toBe('inbox');
  });
});

describe('feedNamed', () => {
  it('finds a configured feed by name in any case, and knows the built-in inbox', () => {
    expect(feedNamed(config, 'workday')).toBe('workday');
    expect(feedNamed(config, 'contractors')).toBe('Contractors'); // the config's spelling
    expect(feedNamed(config, 'INBOX')).toBe('inbox');
  });

  it('refuses an unknown name as a usage error that lists the feeds there are', () => {
    const error = errorOf(() => feedNamed(config, 'nope'));
    expect(error.code).toBe('FEED_NOT_FOUND');
    expect(exitCodeFor(error)).toBe(2);
    expect(error.message).toContain('"nope"');
    expect(error.message).toContain('inbox, workday, workday-csv, Contractors');
  });
});

describe('limitsOf', () => {
  it('lays the limits a feed sets over safety.limits, keeping the others', () => {
    expect(limitsOf(config, 'workday')).toEqual({
      deactivate: 200,
      mfaBypass: -1,
      privilegedGrant: 5,
      privilegedRevoke: 10,
      passwordReset: 7,
      rowDropPercent: 20,
    });
  });

  it('gives a feed without limits, and the inbox, safety.limits as they are', () => {
    expect(limitsOf(config, 'workday-csv')).toEqual(config.safety.limits);
    expect(limitsOf(config, 'inbox')).toEqual(config.safety.limits);
    expect(limitsOf(config, 'inbox').passwordReset).toBe(7);
  });
});

describe('the feeds config', () => {
  const issuesOf = (feeds: unknown) => {
    const parsed = configSchema.safeParse({ feeds });
    expect(parsed.success).toBe(false);
    return parsed.error!.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  };

  it('refuses a feed named like the built-in inbox, in any case', () => {
    expect(issuesOf([{ name: 'Inbox', match: '*.xlsx' }])).toEqual([
      { path: 'feeds.0.name', message: '"inbox" is the built-in feed; choose another name' },
    ]);
  });

  it('refuses a name defined twice, in any case', () => {
    expect(
      issuesOf([
        { name: 'workday', match: 'a*' },
        { name: 'WORKDAY', match: 'b*' },
      ]),
    ).toEqual([{ path: 'feeds.1.name', message: 'feed "WORKDAY" is defined twice' }]);
  });

  it('refuses a limit below -1 and a limit it does not know', () => {
    expect(issuesOf([{ name: 'w', match: '*', limits: { deactivate: -2 } }])[0]?.path).toBe(
      'feeds.0.limits.deactivate',
    );
    expect(issuesOf([{ name: 'w', match: '*', limits: { everything: 1 } }])[0]?.path).toBe('feeds.0.limits');
  });
});

describe('the feed of a file the daemon takes', () => {
  const daemonConfig = configWith({
    feeds: [
      { name: 'workday', match: 'workday*.xlsx' },
      { name: 'sap', match: 'sap-export*.csv' },
    ],
    schedule: {
      sources: [
        { name: 'workday', path: '/mnt/hr/all staff.xlsx', cron: '0 * * * *' },
        { name: 'payroll', path: '/mnt/hr/payroll.xlsx', cron: '0 * * * *' },
      ],
    },
  });

  it('gives a scheduled source’s copy to the feed of the same name, whatever its glob says', () => {
    expect(sourceOfCopy(daemonConfig, 'workday_20261207T001500Z.xlsx')?.path).toBe('/mnt/hr/all staff.xlsx');
    expect(feedOfInboxFile(daemonConfig, 'workday_20261207T001500Z.xlsx')).toBe('workday');
    expect(feedOfInboxFile(daemonConfig, 'workday_20261207T001500Z.csv')).toBe('workday'); // the glob wants .xlsx
  });

  it('matches the globs for a copy of a source no feed is named after, and for any other file', () => {
    expect(feedOfInboxFile(daemonConfig, 'payroll_20261207T001500Z.xlsx')).toBe('inbox');
    expect(feedOfInboxFile(daemonConfig, 'sap-export-12.csv')).toBe('sap');
    expect(feedOfInboxFile(daemonConfig, 'workday_export.xlsx')).toBe('workday');
    // Named like a copy, but of no configured source: the globs decide.
    expect(sourceOfCopy(daemonConfig, 'sap-export_20261207T001500Z.csv')).toBeUndefined();
    expect(feedOfInboxFile(daemonConfig, 'sap-export_20261207T001500Z.csv')).toBe('sap');
    expect(sourceOfCopy(daemonConfig, 'workday_2026-12-07.xlsx')).toBeUndefined();
  });
});
