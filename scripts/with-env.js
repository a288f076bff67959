'use strict';
// node scripts/with-env.js NAME=value ... -- command args: runs the command with those
// environment variables, the same way on every OS (npm scripts run under cmd.exe on Windows,
// where `NAME=value command` does not work). Exits with the command's status.
const { spawnSync } = require('child_process');

const args = process.argv.slice(2);
const split = args.indexOf('--');
if (split < 1 || split === args.length - 1) {
  console.error('usage: node scripts/with-env.js NAME=value ... -- command [args]');
  process.exit(2);
}
const env = { ...process.env };
for (const assignment of args.slice(0, split)) {
  const eq = assignment.indexOf('=');
  if (eq < 1) {
    console.error(`with-env.js: "${assignment}" is not NAME=value`);
    process.exit(2);
  }
  env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
}
const [command, ...rest] = args.slice(split + 1);
const result = spawnSync(command, rest, { env, stdio: 'inherit', shell: process.platform === 'win32' });
if (result.error) {
  console.error(`with-env.js: cannot run ${command}: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status === null ? 1 : result.status);
