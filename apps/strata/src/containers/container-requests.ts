import { z } from 'zod';

/** Request bodies of the container verbs: the same checks for HTTP and for NATS commands. */
const strings = z.array(z.string().max(64 * 1024)).max(4096);
export const createBody = z
  .object({
    image: z.string().min(1),
    name: z.string().optional(),
    cmd: strings.optional(),
    entrypoint: strings.optional(),
    env: strings.optional(),
    workingDir: z.string().optional(),
    user: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    hostname: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/).optional(),
    restart: z.string().optional(),
    stopSignal: z.string().optional(),
    stopTimeout: z.number().int().optional(),
    node: z.string().min(1).max(63).optional(),
  })
  .strict();
export const commitBody = z
  .object({ tag: z.string().optional(), author: z.string().max(1024).optional(), message: z.string().max(64 * 1024).optional(), changes: strings.optional(), pause: z.boolean().optional() })
  .strict();
export const execBody = z.object({ cmd: strings.min(1), env: strings.optional(), workingDir: z.string().optional(), user: z.string().optional() }).strict();
