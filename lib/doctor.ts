// SPDX-License-Identifier: MIT
//
// `npx wsk-bridge doctor`: is this machine ready for the kernel backend, and if not, what to do.
// On Windows it checks, in the order a user fixes them: the addon, elevation, test signing
// (and Secure Boot, which forbids it), the WskBridge service, the device, and the protocol
// version the driver speaks. Elsewhere it says that the kernel backend needs Windows, and
// checks the sim backend. Every failed check carries the command that fixes it.

import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { addon } from './addon.js';
import { WSKB_PROTOCOL_VERSION } from './protocol.js';
import { open, type WskSession } from './session.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface DoctorCheck {
  /** Short name: 'addon', 'elevation', 'test signing', 'service', 'device', 'protocol', 'sim'. */
  name: string;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** What to do about it (for warn and fail). */
  fix?: string;
}

export interface DoctorReport {
  platform: string;
  checks: DoctorCheck[];
  /** No check failed. */
  ok: boolean;
  /** The kernel backend can be used now. */
  kernelReady: boolean;
}

/** A command's result, as spawnSync gives it. */
export interface ExecResult {
  status: number | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

/** Everything the doctor touches outside itself, replaceable by tests. */
export interface DoctorEnvironment {
  platform: NodeJS.Platform;
  exec(command: string, args: string[]): ExecResult;
  loadAddon(): void;
  openSession(backend: 'kernel' | 'sim'): Promise<WskSession>;
}

const INSTALL_DOCS = 'docs/windows.md';

export const defaultEnvironment: DoctorEnvironment = {
  platform: process.platform,
  exec(command, args) {
    const result = spawnSync(command, args, { encoding: 'utf8', windowsHide: true, timeout: 15000 });
    return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', error: result.error };
  },
  loadAddon() {
    addon();
  },
  openSession(backend) {
    return open({ backend });
  },
};

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A REG_* value of `reg query <key> /v <name>`, or undefined when absent. */
function regValue(env: DoctorEnvironment, key: string, name: string): string | undefined {
  const result = env.exec('reg', ['query', key, '/v', name]);
  if (result.status !== 0) return undefined;
  const line = result.stdout.split(/\r?\n/).find((l) => l.trim().startsWith(name));
  if (!line) return undefined;
  const match = /^\s*\S+\s+REG_\w+\s*(.*)$/.exec(line);
  return match ? match[1].trim() : undefined;
}

async function checkSession(
  env: DoctorEnvironment,
  backend: 'kernel' | 'sim',
): Promise<{ session?: WskSession; error?: string }> {
  try {
    return { session: await env.openSession(backend) };
  } catch (error) {
    return { error: message(error) };
  }
}

async function checkSim(env: DoctorEnvironment, checks: DoctorCheck[]): Promise<void> {
  const { session, error } = await checkSession(env, 'sim');
  if (session) {
    checks.push({
      name: 'sim',
      status: 'ok',
      detail: `the driver runs on ksim in this process (protocol version ${session.driverVersion}, WSK ${formatWskVersion(session.wskVersion.highest)})`,
    });
    await session.close();
  } else {
    checks.push({
      name: 'sim',
      status: 'fail',
      detail: `the sim backend does not open: ${error}`,
      fix: 'rebuild the addon (npm rebuild wsk-bridge) and report the message above if it persists',
    });
  }
}

function formatWskVersion(version: number): string {
  return `${version >> 8}.${version & 0xff}`;
}

async function checkWindows(env: DoctorEnvironment, checks: DoctorCheck[]): Promise<boolean> {
  // Elevation: `net session` succeeds only in an elevated process.
  const elevated = env.exec('net', ['session']).status === 0;
  checks.push(
    elevated
      ? { name: 'elevation', status: 'ok', detail: 'this process is elevated (Administrator)' }
      : {
          name: 'elevation',
          status: 'warn',
          detail: 'this process is not elevated; \\\\.\\WskBridge admits only Administrators and SYSTEM',
          fix: 'run the shell as Administrator (right-click > Run as administrator) for the kernel backend',
        },
  );

  // Test signing as the running kernel was booted (not what bcdedit holds for the next boot).
  const startOptions = regValue(env, 'HKLM\\SYSTEM\\CurrentControlSet\\Control', 'SystemStartOptions') ?? '';
  const secureBoot = regValue(env, 'HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecureBoot\\State', 'UEFISecureBootEnabled');
  const secureBootOn = secureBoot !== undefined && /^0x0*1$/i.test(secureBoot);
  const testSigning = /(^|\s)TESTSIGNING(\s|$)/i.test(startOptions);
  if (testSigning) {
    checks.push({ name: 'test signing', status: 'ok', detail: 'on in the running kernel' });
  } else {
    checks.push({
      name: 'test signing',
      status: 'fail',
      detail: `off in the running kernel${secureBootOn ? '; Secure Boot is on, and Windows refuses test signing while it is' : ''}`,
      fix: secureBootOn
        ? `turn Secure Boot off in the VM's firmware (Hyper-V: Set-VMFirmware -EnableSecureBoot Off), then scripts\\enable-testsigning.ps1 -Restart (${INSTALL_DOCS}); or use the sim backend`
        : `scripts\\enable-testsigning.ps1 -Restart (elevated), then run the doctor again (${INSTALL_DOCS})`,
    });
  }

  // The service.
  const query = env.exec('sc.exe', ['query', 'WskBridge']);
  const state = /STATE\s*:\s*\d+\s+(\w+)/.exec(query.stdout)?.[1];
  let serviceRunning = false;
  if (query.status === 1060 || /1060/.test(query.stdout)) {
    checks.push({
      name: 'service',
      status: 'fail',
      detail: 'the WskBridge service is not installed',
      fix: `build, sign and install it: scripts\\vm-test.ps1, or scripts\\new-test-certificate.ps1, sign-driver.ps1, install-driver.ps1 (${INSTALL_DOCS})`,
    });
  } else if (state === 'RUNNING') {
    serviceRunning = true;
    checks.push({ name: 'service', status: 'ok', detail: 'WskBridge is running' });
  } else if (state) {
    checks.push({
      name: 'service',
      status: 'fail',
      detail: `WskBridge is installed but ${state.toLowerCase()}`,
      fix: 'sc.exe start WskBridge (elevated); if that fails, scripts\\install-driver.ps1 says why',
    });
  } else {
    checks.push({
      name: 'service',
      status: 'warn',
      detail: `could not read the service state (sc.exe exit ${query.status}: ${(query.stdout + query.stderr).trim() || query.error?.message || 'no output'})`,
    });
  }

  // The device and the protocol: a real HELLO through the Windows device.
  const { session, error } = await checkSession(env, 'kernel');
  if (session) {
    checks.push({ name: 'device', status: 'ok', detail: '\\\\.\\WskBridge opens' });
    checks.push({
      name: 'protocol',
      status: 'ok',
      detail: `driver and library speak protocol version ${session.driverVersion}; WSK provider ${formatWskVersion(session.wskVersion.lowest)}..${formatWskVersion(session.wskVersion.highest)}`,
    });
    await session.close();
    return true;
  }
  const text = error ?? 'unknown error';
  if (/protocol version mismatch|not a WskBridge driver/.test(text)) {
    checks.push({ name: 'device', status: 'ok', detail: '\\\\.\\WskBridge opens' });
    checks.push({
      name: 'protocol',
      status: 'fail',
      detail: text,
      fix: `this library speaks version ${WSKB_PROTOCOL_VERSION}: build and install the driver from this same checkout (scripts\\vm-test.ps1)`,
    });
  } else if (/not installed or not started/.test(text)) {
    checks.push({
      name: 'device',
      status: 'fail',
      detail: text,
      fix: serviceRunning ? 'the service runs but its device is missing: see the System event log' : 'fix the service first (above)',
    });
  } else if (/elevated|Administrator/i.test(text)) {
    checks.push({ name: 'device', status: 'fail', detail: text, fix: 'run the shell as Administrator' });
  } else {
    checks.push({ name: 'device', status: 'fail', detail: text, fix: `see ${INSTALL_DOCS}, "Troubleshooting"` });
  }
  return false;
}

/** Runs every check; never throws for a failed check (only for a bug). */
export async function doctor(env: DoctorEnvironment = defaultEnvironment): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const platform = `${env.platform} ${os.release()} ${os.arch()}`;
  let kernelReady = false;

  let addonLoaded = true;
  try {
    env.loadAddon();
    checks.push({ name: 'addon', status: 'ok', detail: 'the native addon loads' });
  } catch (error) {
    addonLoaded = false;
    checks.push({
      name: 'addon',
      status: 'fail',
      detail: `the native addon does not load: ${message(error)}`,
      fix:
        env.platform === 'win32'
          ? 'npm rebuild wsk-bridge (needs Visual Studio 2022 Build Tools with "Desktop development with C++" and Python 3)'
          : 'npm rebuild wsk-bridge (needs python3, make and a C/C++ compiler)',
    });
  }

  if (env.platform !== 'win32') {
    checks.push({
      name: 'kernel backend',
      status: 'skip',
      detail: `the kernel backend needs Windows (this is ${env.platform}); the sim backend runs the same driver sources on ksim here`,
    });
  } else if (addonLoaded) {
    kernelReady = await checkWindows(env, checks);
  }
  if (addonLoaded) await checkSim(env, checks);

  return { platform, checks, ok: checks.every((c) => c.status !== 'fail'), kernelReady };
}

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

/** The report as a person reads it. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = [`wsk-bridge doctor (${report.platform})`];
  for (const check of report.checks) {
    lines.push(`  ${MARK[check.status]} ${check.name}: ${check.detail}`);
    if (check.fix && check.status !== 'ok') lines.push(`       fix: ${check.fix}`);
  }
  lines.push(
    report.kernelReady
      ? 'The kernel backend is ready: open({ backend: "kernel" }).'
      : report.ok
        ? 'The sim backend is ready: open() uses it when no kernel device is present.'
        : 'Not ready: fix the first FAIL above, then run the doctor again.',
  );
  return lines.join('\n');
}
