/** The controller's only access to time, so scheduling can be tested without waiting. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** `base` spread by up to ±`fraction` so that many objects with one interval do not fire together. */
export function withJitter(base: number, fraction = 0.1, random: () => number = Math.random): number {
  return Math.max(0, Math.round(base * (1 + fraction * (2 * random() - 1))));
}
