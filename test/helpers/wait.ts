// Waiting on outcomes instead of sleeping: every test that depends on another process
// polls for the state it expects, with a deadline far from the test's own timeout.

/** Resolves once `cond` holds; throws naming `what` if it has not after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  /** What is awaited; a function is read when the wait fails (a log quoted then, not before). */
  what: string | (() => string),
  timeoutMs = 5000,
  everyMs = 25,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Polls `f` until `ok` holds for its value and returns that value; throws naming `what`, the last
 * value and `detail()` (logs worth reading) if it has not after `timeoutMs`.
 */
export async function waitForValue<T>(
  what: string,
  f: () => Promise<T> | T,
  ok: (v: T) => boolean,
  timeoutMs = 15_000,
  everyMs = 25,
  detail: () => string = () => '',
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await f();
  while (!ok(v)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}${detail()}`);
    await new Promise((r) => setTimeout(r, everyMs));
    v = await f();
  }
  return v;
}
