// The console page's script is a string inside TypeScript: a slip in its escapes is a syntax
// error only a browser would see. Parse it here, without a browser.
import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CONSOLE_PAGE } from '../../src/control/console-page.js';

describe('the console page', () => {
  it('has one script, and it parses', () => {
    const scripts = [...CONSOLE_PAGE.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] as string);
    expect(scripts).toHaveLength(1);
    expect(() => new Script(scripts[0] as string)).not.toThrow();
  });
});
