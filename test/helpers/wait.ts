// Waiting on outcomes instead of sleeping: every test that depends on another process
// polls for the state it expects, with a deadline far from the test's own timeout.

/** Resolves once `cond` holds; throws naming `what` if it has not after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
  everyMs = 25,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
