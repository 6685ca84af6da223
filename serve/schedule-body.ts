/**
 * The body of POST /v1/schedule, checked with zod before the agent sees it (serve/api-schedule.ts).
 */
import { z } from 'zod';
import { PRIORITY } from '../engine/types.ts';

/**
 * Body of POST /v1/schedule. Priority names are mapped to the engine's numbers here, so the agent
 * always receives 0–3 (`ScheduleBody['priority']` is a number).
 */
export const scheduleBodySchema = z.strictObject({
  profile: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'profile names are 1–64 of A–Z a–z 0–9 _ . -'),
  priority: z
    .union([z.literal(0), z.literal(1), z.literal(2), z.literal(3), z.enum(['low', 'normal', 'high', 'critical'])], {
      error: 'priority is 0–3 or one of low, normal, high, critical',
    })
    .transform((p) => (typeof p === 'number' ? p : PRIORITY[p]))
    .default(1),
  memory_home: z.number().int().min(0).max(4095).optional(),
  cpus: z.number().positive().max(1024).optional(),
  memory_kb: z
    .number()
    .int()
    .min(0)
    .max(2 ** 40)
    .optional(),
  exclusive_cpus: z.number().int().min(0).max(1024).optional(),
  payload: z.unknown().optional(),
  wait: z.boolean().default(false),
});
export type ScheduleBody = z.infer<typeof scheduleBodySchema>;
