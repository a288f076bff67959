#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// The `wsk-bridge` command (package.json "bin"). One subcommand for now:
//   wsk-bridge doctor [--json]   is this machine ready for the kernel backend? what to do if not.

import { doctor, formatDoctorReport } from '../lib/doctor.js';

const USAGE = `usage: wsk-bridge doctor [--json]

  doctor   checks test signing, the WskBridge service, the device, the protocol version
           (Windows) and the sim backend (everywhere), and says what to do for each failure.
           Exit code 0 when nothing failed.
  --json   print the report as JSON`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'doctor') {
    console.error(`wsk-bridge: unknown command ${JSON.stringify(command)}\n${USAGE}`);
    return 2;
  }
  const unknown = rest.filter((a) => a !== '--json');
  if (unknown.length > 0) {
    console.error(`wsk-bridge doctor: unknown option ${JSON.stringify(unknown[0])}\n${USAGE}`);
    return 2;
  }
  const report = await doctor();
  console.log(rest.includes('--json') ? JSON.stringify(report, null, 2) : formatDoctorReport(report));
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`wsk-bridge: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
