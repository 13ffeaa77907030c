/**
 * The drift report a device publishes (an MQTT payload, plain JSON). The type is derived from the
 * schema so the gateway's validator and the device's producer cannot disagree.
 */
import { describeIssues, z } from '../schema.ts';
import { EdgeloopError } from '../errors.ts';

const ks = z.object({ statistic: z.number().min(0).max(1), pValue: z.number().min(0).max(1), method: z.enum(['exact', 'asymp']) });
const chi2 = z.object({ statistic: z.number().min(0), pValue: z.number().min(0).max(1), dof: z.number().int().min(0) });

const numericDrift = z.object({
  kind: z.literal('numeric'),
  name: z.string().min(1),
  /** Non-missing values in the window. */
  count: z.number().int().min(0),
  missingRate: z.number().min(0).max(1),
  outOfRangeRate: z.number().min(0).max(1),
  mean: z.number().nullable(),
  psi: z.number().min(0).nullable(),
  js: z.number().min(0).max(1).nullable(),
  ks: ks.nullable(),
  /** In the feature's own unit; null when disabled or the window is empty. */
  wasserstein: z.number().min(0).nullable(),
  /** Longest run of identical consecutive values in the window, runs at the reference minimum excepted (calibrated profiles only). */
  flatRun: z.number().int().min(0).optional(),
});

const categoricalDrift = z.object({
  kind: z.literal('categorical'),
  name: z.string().min(1),
  count: z.number().int().min(0),
  missingRate: z.number().min(0).max(1),
  /** Share of non-missing values whose category the reference never saw. */
  unseenRate: z.number().min(0).max(1),
  psi: z.number().min(0).nullable(),
  js: z.number().min(0).max(1).nullable(),
  chi2: chi2.nullable(),
});

const featureDrift = z.discriminatedUnion('kind', [numericDrift, categoricalDrift]);

export const driftReportSchema = z.object({
  version: z.literal(1),
  generatedAtMs: z.number(),
  window: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('count'), size: z.number().int().positive() }),
    z.object({ kind: z.literal('time'), ms: z.number().positive() }),
  ]),
  sampleCount: z.number().int().min(0),
  windowStartMs: z.number().nullable(),
  windowEndMs: z.number().nullable(),
  features: z.array(featureDrift),
  output: featureDrift.optional(),
  /**
   * Optional (device agents fill them since #7): the model and model version the window was scored
   * for (`version` above is the report schema's), and the reporting device.
   */
  model: z.string().min(1).max(64).optional(),
  modelVersion: z.number().int().positive().optional(),
  device: z.string().min(1).max(64).optional(),
});

export type DriftReport = z.infer<typeof driftReportSchema>;
export type FeatureDrift = z.infer<typeof featureDrift>;
export type NumericFeatureDrift = z.infer<typeof numericDrift>;
export type CategoricalFeatureDrift = z.infer<typeof categoricalDrift>;

/** Validates a received report; every problem is listed in the message. */
export function parseDriftReport(doc: unknown): DriftReport {
  const r = driftReportSchema.safeParse(doc);
  if (!r.success) {
    const issues = describeIssues(r.error.issues, '(root)').join('; ');
    throw new EdgeloopError('BAD_PAYLOAD', `drift report is invalid: ${issues}`);
  }
  return r.data;
}
