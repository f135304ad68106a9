/**
 * Stops a server that nobody calls any more: a served policy left behind by a campaign that
 * finished or was cancelled must not hold its node (or a Slurm allocation) forever.
 */

export interface IdleWatch {
  stop(): void;
}

/**
 * Calls `onIdle` once, when `idleForMs()` reaches `idleMs`. Checks a few times per idle period
 * (at most every 10 s); the timer does not keep the process alive on its own.
 */
export function watchIdle(p: { idleMs: number; idleForMs: () => number; onIdle: (idleForMs: number) => void }): IdleWatch {
  if (!Number.isFinite(p.idleMs) || p.idleMs <= 0) throw new Error(`idle limit must be a positive number of milliseconds (got ${p.idleMs})`);
  const every = Math.max(50, Math.min(10_000, Math.floor(p.idleMs / 4)));
  const timer = setInterval(() => {
    const idle = p.idleForMs();
    if (idle < p.idleMs) return;
    clearInterval(timer);
    p.onIdle(idle);
  }, every);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
