/** Runs `fn` over `items` with at most `limit` in flight; the first failure stops new work and is rethrown. */
export async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  let failure: unknown;
  const worker = async () => {
    while (i < items.length && failure === undefined) {
      const item = items[i++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
}
