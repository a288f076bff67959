#!/usr/bin/env node
// SPDX-License-Identifier: MIT
//
// The `wsk-bridge` command (package.json "bin"):
//   wsk-bridge doctor [--json]          is this machine ready for the kernel backend?
//   wsk-bridge trace -- <command...>    runs a command with the live IOCTL/event table on stderr
//   wsk-bridge demo                     the demo (`npm start`)
//   wsk-bridge --version

import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { doctor, formatDoctorReport } from '../lib/doctor.js';

const USAGE = `usage: wsk-bridge <command>

  doctor [--json]       checks test signing, the WskBridge service, the device, the protocol
                        version (Windows) and the sim backend (everywhere), and says what to do
                        for each failure. Exit code 0 when nothing failed.
  trace -- <command>    runs <command> (say: node my-experiment.js) with WSKB_TRACE=1: every
                        IOCTL with its NTSTATUS and every event, as a table on stderr.
                        Exit code: the command's.
  demo                  runs the demo (a kernel echo server, then the seed examples).
  --version             prints the version.`;

function version(): string {
  return (require(path.join(__dirname, '..', '..', 'package.json')) as { version: string }).version;
}

/** Runs `argv` with the trace on; resolves with its exit code (128 + signal number when killed). */
function trace(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  return new Promise((resolve) => {
    const child = spawn(command!, args, { stdio: 'inherit', env: { ...process.env, WSKB_TRACE: '1' } });
    child.once('error', (error) => {
      console.error(`wsk-bridge trace: cannot run ${JSON.stringify(command)}: ${error.message}`);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (require('node:os').constants.signals[signal] as number) : 0)));
  });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === '-v') {
    console.log(version());
    return 0;
  }
  if (command === 'trace') {
    const separator = rest.indexOf('--');
    const child = separator >= 0 ? rest.slice(separator + 1) : rest;
    if (child.length === 0 || (separator > 0)) {
      console.error(`wsk-bridge trace: give the command after --: wsk-bridge trace -- <command>\n${USAGE}`);
      return 2;
    }
    return trace(child);
  }
  if (command === 'demo') {
    if (rest.length > 0) {
      console.error(`wsk-bridge demo: unknown option ${JSON.stringify(rest[0])}\n${USAGE}`);
      return 2;
    }
    const { runDemo } = await import('./demo.js');
    await runDemo();
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
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
