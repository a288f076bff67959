# SPDX-License-Identifier: MIT
<#
.SYNOPSIS
  Turns Windows test-signing mode on (or off with -Disable), so that a test-signed
  wskbridge.sys can load. Takes effect at the next boot.

.DESCRIPTION
  Runs `bcdedit /set testsigning on`. Idempotent: does nothing when the setting already holds.
  Secure Boot forbids test signing: bcdedit then refuses ("The value is protected by Secure
  Boot policy"), and this script says how to turn Secure Boot off for the VM, or to use the
  sim backend instead. With BitLocker on, a boot-configuration change can ask for the recovery
  key at the next boot: the script warns first.

.PARAMETER Disable
  Turns test signing off again.

.PARAMETER Restart
  Reboots at once when a reboot is needed (else it only says so).

.EXAMPLE
  .\scripts\enable-testsigning.ps1 -WhatIf
  .\scripts\enable-testsigning.ps1 -Restart
#>
[CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
param(
    [switch]$Disable,
    [switch]$Restart
)
. "$PSScriptRoot\WskbCommon.ps1"
Assert-WskbElevated $WhatIfPreference

$want = -not $Disable
$wantText = if ($want) { 'on' } else { 'off' }
Write-WskbStep "test signing: turning it $wantText"

$state = Get-WskbTestSigningState
$secureBoot = Get-WskbSecureBoot
Write-WskbNote ("now: running kernel booted with test signing {0}; next boot: {1}; Secure Boot: {2}" -f `
    ($(if ($state.Effective) { 'ON' } else { 'OFF' })),
    ($(if ($null -eq $state.Configured) { 'unknown (not elevated)' } elseif ($state.Configured) { 'ON' } else { 'OFF' })),
    ($(if ($null -eq $secureBoot) { 'not UEFI / unknown' } elseif ($secureBoot) { 'ON' } else { 'off' })))

if ($state.Configured -eq $want) {
    if ($state.Effective -eq $want) {
        Write-WskbOk "test signing is already $wantText, and in effect. Nothing to do."
        exit 0
    }
    Write-WskbOk "test signing is already set $wantText for the next boot; it takes effect after a reboot."
} else {
    if ($want -and $secureBoot) {
        Stop-Wskb (@(
            'Secure Boot is on, and Windows refuses test signing while it is (bcdedit: "The value is protected by Secure Boot policy").',
            'Turn Secure Boot off for this machine, then run this script again:',
            '  - Hyper-V VM (on the host, VM off): Set-VMFirmware -VMName <name> -EnableSecureBoot Off',
            '  - VMware / VirtualBox / QEMU: turn off Secure Boot in the VM''s UEFI firmware settings',
            '  - Azure: create the VM with Security type "Standard" (Trusted Launch keeps Secure Boot on)',
            '  - physical machine: firmware setup (UEFI) > Secure Boot > Disabled',
            'Or stay on the sim backend, which needs no driver: open({ backend: ''sim'' }).'
        ) -join [Environment]::NewLine)
    }
    $bitlocker = Get-Command Get-BitLockerVolume -ErrorAction SilentlyContinue
    if ($bitlocker) {
        $systemVolume = Get-BitLockerVolume -MountPoint $env:SystemDrive -ErrorAction SilentlyContinue
        if ($systemVolume -and $systemVolume.ProtectionStatus -eq 'On') {
            Write-Warning "BitLocker protects ${env:SystemDrive}: the next boot may ask for the recovery key. Have it at hand, or suspend protection first: Suspend-BitLocker -MountPoint $env:SystemDrive -RebootCount 1"
        }
    }
    if ($PSCmdlet.ShouldProcess('boot configuration {current}', "bcdedit /set testsigning $wantText")) {
        $result = Invoke-WskbNative 'bcdedit.exe' @('/set', '{current}', 'testsigning', $wantText)
        if ($result.Code -ne 0) {
            $text = $result.Output -join ' '
            if ($text -match 'Secure Boot') {
                Stop-Wskb "bcdedit refused: Secure Boot is on ($text). Turn Secure Boot off in the VM's firmware settings (Hyper-V: Set-VMFirmware -EnableSecureBoot Off), or use the sim backend."
            }
            Stop-Wskb "bcdedit /set testsigning $wantText failed (exit $($result.Code)): $text"
        }
        Write-WskbOk "bcdedit: testsigning $wantText for the next boot"
    }
}

if ($state.Effective -ne $want) {
    if ($Restart) {
        if ($PSCmdlet.ShouldProcess($env:COMPUTERNAME, 'Restart-Computer')) { Restart-Computer -Force }
    } else {
        Write-Host "   Reboot to apply it (Restart-Computer), then run scripts\install-driver.ps1." -ForegroundColor Yellow
        exit 2
    }
}
exit 0
