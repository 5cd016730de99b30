// Attribute actions shared by the `attributes` (data points) and `resource` processors.
import { z } from 'zod';
import type { Attributes } from '../component/types.js';

export const actionSchema = z
  .strictObject({
    key: z.string().min(1),
    action: z.enum(['insert', 'update', 'upsert', 'delete']),
    value: z.union([z.string(), z.number(), z.boolean()]).optional(),
    from_attribute: z.string().min(1).optional(),
  })
  .superRefine((action, ctx) => {
    const hasSource = action.value !== undefined || action.from_attribute !== undefined;
    if (action.action !== 'delete' && !hasSource) {
      ctx.addIssue({ code: 'custom', message: `action "${action.action}" needs "value" or "from_attribute"`, path: ['value'] });
    }
    if (action.value !== undefined && action.from_attribute !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'give "value" or "from_attribute", not both', path: ['from_attribute'] });
    }
  });

export type AttributeAction = z.output<typeof actionSchema>;

/** Applies actions in order to a copy; returns the input itself when nothing changed. */
export function applyActions(actions: readonly AttributeAction[], input: Attributes): Attributes {
  let output: Attributes | undefined;
  const current = () => output ?? input;
  const write = (key: string, value: Attributes[string]) => {
    output ??= { ...input };
    if (value === undefined) delete output[key];
    else output[key] = value;
  };
  for (const action of actions) {
    const present = current()[action.key] !== undefined;
    if (action.action === 'delete') {
      if (present) write(action.key, undefined);
      continue;
    }
    if ((action.action === 'insert' && present) || (action.action === 'update' && !present)) continue;
    const value = action.from_attribute !== undefined ? current()[action.from_attribute] : action.value;
    if (value !== undefined) write(action.key, value);
  }
  return output ? Object.freeze(output) : input;
}
