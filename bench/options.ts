// SPDX-License-Identifier: MIT
//
// Bench options shared by bench/run.ts and bench/profile.ts.

/** READ_EVENTS pump tuning from WSKB_BENCH_READ_BYTES / WSKB_BENCH_DEPTH (library defaults otherwise). */
export function pumpOptionsFromEnv(): { readBytes?: number; depth?: number } | undefined {
  const readBytes = process.env.WSKB_BENCH_READ_BYTES ? Number(process.env.WSKB_BENCH_READ_BYTES) : undefined;
  const depth = process.env.WSKB_BENCH_DEPTH ? Number(process.env.WSKB_BENCH_DEPTH) : undefined;
  if (readBytes === undefined && depth === undefined) return undefined;
  return { ...(readBytes !== undefined ? { readBytes } : {}), ...(depth !== undefined ? { depth } : {}) };
}
