// SPDX-License-Identifier: MIT
//
// `wsk-bridge doctor`: its Windows logic against a scripted machine (registry, sc.exe, the
// device), and for real on this machine (sim backend).

import assert from 'node:assert/strict';
import { defaultEnvironment, doctor, formatDoctorReport, type DoctorEnvironment, type ExecResult } from '../lib/doctor.js';
import { WSKB_PROTOCOL_VERSION } from '../lib/protocol.js';
import type { WskSession } from '../lib/session.js';

interface Machine {
  elevated: boolean;
  startOptions: string;
  secureBoot: boolean;
  service: 'missing' | 'RUNNING' | 'STOPPED';
  kernel: { error?: string; driverVersion?: number };
}

const ok = (stdout: string): ExecResult => ({ status: 0, stdout, stderr: '' });

function fakeWindows(machine: Machine, closed: string[]): DoctorEnvironment {
  const session = (backend: string, driverVersion: number): WskSession =>
    ({
      backend,
      driverVersion,
      wskVersion: { highest: 0x0100, lowest: 0x0100 },
      close: async () => {
        closed.push(backend);
      },
    }) as unknown as WskSession;
  return {
    platform: 'win32',
    loadAddon() {},
    exec(command, args) {
      if (command === 'net') return { status: machine.elevated ? 0 : 2, stdout: '', stderr: 'Access is denied.' };
      if (command === 'reg' && args[3] === 'SystemStartOptions') {
        return ok(`\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\r\n    SystemStartOptions    REG_SZ    ${machine.startOptions}\r\n`);
      }
      if (command === 'reg' && args[3] === 'UEFISecureBootEnabled') {
        return ok(`\r\n    UEFISecureBootEnabled    REG_DWORD    ${machine.secureBoot ? '0x1' : '0x0'}\r\n`);
      }
      if (command === 'sc.exe') {
        if (machine.service === 'missing') return { status: 1060, stdout: '[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\r\n', stderr: '' };
        const code = machine.service === 'RUNNING' ? 4 : 1;
        return ok(`SERVICE_NAME: WskBridge\r\n        TYPE               : 1  KERNEL_DRIVER\r\n        STATE              : ${code}  ${machine.service}\r\n`);
      }
      throw new Error(`unexpected command ${command} ${args.join(' ')}`);
    },
    async openSession(backend) {
      if (backend === 'sim') return session('sim', WSKB_PROTOCOL_VERSION);
      if (machine.kernel.error) throw new Error(machine.kernel.error);
      return session('kernel', machine.kernel.driverVersion ?? WSKB_PROTOCOL_VERSION);
    },
  };
}

const ready: Machine = {
  elevated: true,
  startOptions: ' NOEXECUTE=OPTIN  TESTSIGNING  NOVGA',
  secureBoot: false,
  service: 'RUNNING',
  kernel: { driverVersion: WSKB_PROTOCOL_VERSION },
};

describe('wsk-bridge doctor', () => {
  it('a prepared Windows VM: every check ok, kernel ready, sessions closed', async () => {
    const closed: string[] = [];
    const report = await doctor(fakeWindows(ready, closed));
    assert.deepEqual(
      report.checks.map((c) => [c.name, c.status]),
      [['addon', 'ok'], ['elevation', 'ok'], ['test signing', 'ok'], ['service', 'ok'], ['device', 'ok'], ['protocol', 'ok'], ['sim', 'ok']],
    );
    assert.equal(report.ok, true);
    assert.equal(report.kernelReady, true);
    assert.deepEqual(closed, ['kernel', 'sim']);
    assert.match(formatDoctorReport(report), /kernel backend is ready/);
  });

  it('test signing off under Secure Boot: says Secure Boot forbids it and how to turn it off', async () => {
    const report = await doctor(
      fakeWindows({ ...ready, startOptions: ' NOEXECUTE=OPTIN', secureBoot: true, kernel: { error: 'the WskBridge driver is not installed or not started: run scripts/install-driver.ps1 (see docs/windows.md)' } }, []),
    );
    const check = report.checks.find((c) => c.name === 'test signing')!;
    assert.equal(check.status, 'fail');
    assert.match(check.detail, /Secure Boot is on/);
    assert.match(check.fix!, /Set-VMFirmware -EnableSecureBoot Off/);
    assert.equal(report.ok, false);
    assert.equal(report.kernelReady, false);
  });

  it('service missing: points at the install scripts; the device error is carried through', async () => {
    const error = 'the WskBridge driver is not installed or not started: run scripts/install-driver.ps1 (see docs/windows.md)';
    const report = await doctor(fakeWindows({ ...ready, service: 'missing', kernel: { error } }, []));
    const service = report.checks.find((c) => c.name === 'service')!;
    assert.equal(service.status, 'fail');
    assert.match(service.fix!, /install-driver\.ps1/);
    const device = report.checks.find((c) => c.name === 'device')!;
    assert.equal(device.status, 'fail');
    assert.equal(device.detail, error);
    assert.match(formatDoctorReport(report), /fix the first FAIL/);
  });

  it('protocol version mismatch: device ok, protocol fails naming this library version', async () => {
    const report = await doctor(
      fakeWindows({ ...ready, kernel: { error: `protocol version mismatch: the driver speaks version ${WSKB_PROTOCOL_VERSION + 1}, this library speaks version ${WSKB_PROTOCOL_VERSION}; install matching versions` } }, []),
    );
    assert.equal(report.checks.find((c) => c.name === 'device')!.status, 'ok');
    const protocol = report.checks.find((c) => c.name === 'protocol')!;
    assert.equal(protocol.status, 'fail');
    assert.match(protocol.detail, new RegExp(`driver speaks version ${WSKB_PROTOCOL_VERSION + 1}`));
    assert.match(protocol.fix!, new RegExp(`speaks version ${WSKB_PROTOCOL_VERSION}\\b`));
  });

  it('not elevated: a warning with the fix, not a failure by itself', async () => {
    const report = await doctor(fakeWindows({ ...ready, elevated: false }, []));
    const check = report.checks.find((c) => c.name === 'elevation')!;
    assert.equal(check.status, 'warn');
    assert.match(check.fix!, /Administrator/);
    assert.equal(report.ok, true);
  });

  it('on this machine: the sim backend opens for real', async function () {
    const report = await doctor(defaultEnvironment);
    const sim = report.checks.find((c) => c.name === 'sim')!;
    assert.equal(sim.status, 'ok', sim.detail);
    if (process.platform !== 'win32') {
      const kernel = report.checks.find((c) => c.name === 'kernel backend')!;
      assert.equal(kernel.status, 'skip');
      assert.match(kernel.detail, /needs Windows/);
      assert.equal(report.ok, true);
    }
  });
});
