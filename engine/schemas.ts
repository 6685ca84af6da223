/**
 * Full validation of what shells receive from outside (files, the CLI, the live API) before it
 * reaches the engine. The engine itself only asserts cheaply on its hot path.
 */
import { z } from 'zod';

const fraction = z.number().min(0).max(1);
const count = z.number().int().min(0);

const psiLine = z.strictObject({
  avg10: fraction,
  avg60: fraction,
  avg300: fraction,
  total_us: z.number().min(0).optional(),
});
const psiReading = z.strictObject({ some: psiLine, full: psiLine.optional() });
export const psiSetSchema = z.strictObject({ cpu: psiReading, memory: psiReading, io: psiReading });

export const requestSchema = z.strictObject({
  id: z.string().min(1).max(256),
  profile: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'profile names are 1–64 of A–Z a–z 0–9 _ . -'),
  cpus: z.number().min(0).max(1024),
  memory_kb: count,
  priority: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]),
  io_intensive: z.boolean().optional(),
  memory_home: count.optional(),
  exclusive_cpus: z.number().int().min(0).max(1024).optional(),
  allowed_nodes: z.array(count).optional(),
  caller: z.string().min(1).max(256).optional(),
});

export const observationSchema = z.strictObject({
  t_ms: z.number().min(0),
  psi: psiSetSchema,
  nodes: z
    .array(
      z.strictObject({
        id: count,
        cpu_util: fraction.optional(),
        mem_free_kb: count.optional(),
        psi: psiSetSchema.optional(),
      }),
    )
    .optional(),
  online_cpus: z.array(count).optional(),
  fragments: z
    .array(
      z.strictObject({
        id: z.string().min(1),
        heartbeat_ms: z.number().min(0).optional(),
        exited: z.boolean().optional(),
        rss_kb: count.optional(),
      }),
    )
    .optional(),
});

export const predictionSchema = z.strictObject({
  profile: z.string().min(1),
  demand_per_s: z.number().min(0),
  demand_p90_per_s: z.number().min(0).optional(),
  recommended_size: count,
  confidence: fraction,
});

/** zod issues as `path: message` lines; an unknown key gets a line of its own, at the key. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const out: string[] = [];
  for (const i of issues) {
    const at = i.path.map(String);
    if (i.code === 'unrecognized_keys') for (const k of i.keys) out.push(`${[...at, k].join('.')}: unknown key`);
    else out.push(`${at.length ? at.join('.') : '(top level)'}: ${i.message}`);
  }
  return out;
}

/** Problems as `path: message` lines, or an empty list when the value is valid. */
export function problemsOf(schema: z.ZodType, value: unknown): string[] {
  const r = schema.safeParse(value);
  return r.success ? [] : formatIssues(r.error.issues);
}
