/**
 * Polls `check` until it returns something other than `undefined` or `false` and returns that; a
 * check that throws counts as not yet. After `ms` it fails with `what` (a function, to describe the
 * last state seen).
 */
export async function until<T>(
  what: string | (() => string),
  check: () => Promise<T | undefined | false>,
  ms = 60_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
