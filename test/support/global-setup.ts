// Builds dist/ once, for the tests that run the agent as a real process.
import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';

export default function setup(): void {
  const result = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  if (result.status !== 0) {
    // Type errors fail `npm test` in its own typecheck step; emitted JS still runs here.
    console.warn('tsc reported errors while building dist/ for the process tests');
  }
  // As `npm run build` does: the CLI is run directly (shebang) by systemd and the tests.
  chmodSync('dist/src/cli/main.js', 0o755);
}
