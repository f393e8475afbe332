// Builds dist/ once before the tests: integration tests run the real CLI (`bin/gtm.js`),
// and worker processes must execute compiled JavaScript.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
