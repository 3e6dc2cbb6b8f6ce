/**
 * The configuration reference, read from the schema itself so the documentation cannot drift:
 * scripts/docs.ts writes it into docs/configuration.md (and a few keys into the README), and
 * test/unit/readme.test.ts checks both are current.
 */
import { z } from 'zod';
import { configSchema } from './schema.js';

export interface ConfigKeyDoc {
  key: string;
  default: unknown;
  description: string;
}

/** Unwraps default/prefault/optional wrappers to the schema that holds the shape. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  while (current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodOptional) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

/** Every leaf key (and array-of-object key) with its default and one-line description. */
export function describeConfigKeys(): ConfigKeyDoc[] {
  const defaults = configSchema.parse({}) as Record<string, unknown>;
  const docs: ConfigKeyDoc[] = [];
  const walk = (schema: z.ZodType, prefix: string, defaultValue: unknown) => {
    const inner = unwrap(schema);
    if (inner instanceof z.ZodObject) {
      for (const [key, child] of Object.entries(inner.shape as Record<string, z.ZodType>)) {
        walk(child, prefix ? `${prefix}.${key}` : key, (defaultValue as Record<string, unknown> | undefined)?.[key]);
      }
      return;
    }
    docs.push({ key: prefix, default: defaultValue, description: schema.description ?? inner.description ?? '' });
    if (inner instanceof z.ZodArray && unwrap(inner.element as z.ZodType) instanceof z.ZodObject) {
      const element = unwrap(inner.element as z.ZodType) as z.ZodObject;
      for (const [key, child] of Object.entries(element.shape as Record<string, z.ZodType>)) {
        docs.push({ key: `${prefix}[].${key}`, default: undefined, description: child.description ?? '' });
      }
    }
  };
  walk(configSchema, '', defaults);
  return docs;
}

/** The Markdown table of every key, or of only `keys` in that order (an unknown key throws). */
export function configReferenceMarkdown(keys?: readonly string[]): string {
  const escape = (text: string) => text.replace(/\|/g, '\\|');
  const all = describeConfigKeys();
  const docs = keys?.map((key) => all.find((doc) => doc.key === key) ?? unknownKey(key)) ?? all;
  const rows = docs.map(
    (doc) =>
      `| \`${doc.key}\` | ${doc.default === undefined ? '' : `\`${escape(JSON.stringify(doc.default))}\``} | ${escape(doc.description)} |`,
  );
  return ['| key | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

function unknownKey(key: string): never {
  throw new Error(`${key} is not a configuration key (src/config/schema.ts)`);
}
