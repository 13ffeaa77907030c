/**
 * The one module that imports zod (schemas for specs, config and payloads): the rest of the code
 * imports `z` from here, so a zod upgrade or replacement touches one file. `describeIssues` is the
 * one way a schema failure is worded: `path.to.field: message`, every issue listed.
 */
import { z } from 'zod';

export { z };

/** One line per issue; `root` stands for an empty path (the document itself). */
export function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[], root: string): string[] {
  return issues.map((i) => `${i.path.map(String).join('.') || root}: ${i.message}`);
}
