# SPDX-License-Identifier: MIT
<#
.SYNOPSIS
  Turns Driver Verifier on or off for wskbridge.sys only, or shows its state.

.DESCRIPTION
  -Enable (default mode): verifier /standard /driver wskbridge.sys; takes effect at the next
  boot and stays on. It replaces the verifier's driver list, so it refuses (unless -Force)
  when other drivers are being verified.
  -Enable -Volatile: no reboot (for CI runners, which cannot reboot): verifier /volatile
  /adddriver wskbridge.sys and /volatile /flags with the standard checks Windows 10 allows
  without a reboot (0x9BB: special pool, IRQL checking, pool tracking, I/O verification,
  deadlock detection, DMA checking, security checks, miscellaneous checks). The driver must
  not be loaded yet: run this before install-driver.ps1 starts it. Lasts until the next boot.
  -Disable: undoes whichever mode is set (the persistent one at the next boot).
  -Status: prints verifier /query and /querysettings.

.EXAMPLE
  .\scripts\verifier.ps1 -Enable -Volatile
  .\scripts\verifier.ps1 -Status
  .\scripts\verifier.ps1 -Disable
#>
[CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Status')]
param(
    [Parameter(ParameterSetName = 'Enable', Mandatory = $true)][switch]$Enable,
    [Parameter(ParameterSetName = 'Enable')][switch]$Volatile,
    [Parameter(ParameterSetName = 'Enable')][switch]$Force,
    [Parameter(ParameterSetName = 'Disable', Mandatory = $true)][switch]$Disable,
    [Parameter(ParameterSetName = 'Status')][switch]$Status
)
. "$PSScriptRoot\WskbCommon.ps1"
Assert-WskbElevated $WhatIfPreference

$VolatileFlags = '0x9BB'

function Get-VerifierText([string]$What) {
    $result = Invoke-WskbNative 'verifier.exe' @($What)
    return ($result.Output -join "`n")
}
# Drivers named in the persistent settings ("Verified drivers:" section of /querysettings).
function Get-PersistentDrivers {
    $text = Get-VerifierText '/querysettings'
    $drivers = @()
    $inList = $false
    foreach ($line in $text -split "`n") {
        if ($line -match '^\s*Verified drivers') { $inList = $true; continue }
        if ($inList) {
            $name = $line.Trim()
            if (-not $name) {
                if ($drivers.Count -gt 0) { break }
                continue
            }
            if ($name -match '^None$' -or $name -match ':$') { break }
            $drivers += $name
        }
    }
    return $drivers
}
function Test-Loaded { return ((Get-WskbService) -and (Get-WskbService).Status -eq 'Running') }

switch ($PSCmdlet.ParameterSetName) {
    'Status' {
        Write-WskbStep 'Driver Verifier, now (verifier /query)'
        Write-Host (Get-VerifierText '/query')
        Write-WskbStep 'Driver Verifier, settings for the next boot (verifier /querysettings)'
        Write-Host (Get-VerifierText '/querysettings')
    }
    'Enable' {
        if ($Volatile) {
            Write-WskbStep "Driver Verifier for $WskbDriverFileName, now, until the next boot (volatile)"
            $active = Get-VerifierText '/query'
            if ($active -match [regex]::Escape($WskbDriverFileName)) {
                Write-WskbOk "$WskbDriverFileName is already being verified"
                exit 0
            }
            if (Test-Loaded) {
                Stop-Wskb "$WskbDriverFileName is loaded; the verifier can only be added to a driver before it loads. Run scripts\uninstall-driver.ps1 (or sc.exe stop WskBridge), then this, then scripts\install-driver.ps1."
            }
            if ($PSCmdlet.ShouldProcess($WskbDriverFileName, "verifier /volatile /adddriver; /volatile /flags $VolatileFlags")) {
                $add = Invoke-WskbNative 'verifier.exe' @('/volatile', '/adddriver', $WskbDriverFileName)
                $flags = Invoke-WskbNative 'verifier.exe' @('/volatile', '/flags', $VolatileFlags)
                $settings = Get-VerifierText '/query'
                if ($add.Code -ne 0 -and -not ($settings -match [regex]::Escape($WskbDriverFileName))) {
                    Stop-Wskb ("verifier /volatile /adddriver failed (exit $($add.Code)); this Windows may not allow enabling the verifier without a reboot. " +
                        "Use scripts\verifier.ps1 -Enable (persistent) and reboot.`n$($add.Output -join "`n")`n$($flags.Output -join "`n")")
                }
                Write-WskbOk "$WskbDriverFileName will be verified when it loads (flags $VolatileFlags), until the next boot"
            }
        } else {
            Write-WskbStep "Driver Verifier for $WskbDriverFileName from the next boot (persistent)"
            $drivers = @(Get-PersistentDrivers)
            if ($drivers -contains $WskbDriverFileName -and $drivers.Count -eq 1) {
                Write-WskbOk 'already set'
                exit 0
            }
            $others = @($drivers | Where-Object { $_ -ne $WskbDriverFileName })
            if ($others.Count -gt 0 -and -not $Force) {
                Stop-Wskb "Driver Verifier is set up for other drivers ($($others -join ', ')); this would replace that list. Re-run with -Force to replace it, or use -Volatile."
            }
            if ($PSCmdlet.ShouldProcess($WskbDriverFileName, 'verifier /standard /driver')) {
                $set = Invoke-WskbNative 'verifier.exe' @('/standard', '/driver', $WskbDriverFileName)
                if ($set.Code -ne 0 -and $set.Code -ne 2) {
                    # verifier.exe exits 2 ("reboot required") on success of a persistent change.
                    Stop-Wskb "verifier /standard /driver failed (exit $($set.Code)): $($set.Output -join ' ')"
                }
                Write-Host "   Reboot to start verifying $WskbDriverFileName." -ForegroundColor Yellow
            }
        }
    }
    'Disable' {
        Write-WskbStep "Driver Verifier off for $WskbDriverFileName"
        $active = Get-VerifierText '/query'
        if ($active -match [regex]::Escape($WskbDriverFileName) -and $PSCmdlet.ShouldProcess($WskbDriverFileName, 'verifier /volatile /removedriver')) {
            $remove = Invoke-WskbNative 'verifier.exe' @('/volatile', '/removedriver', $WskbDriverFileName)
            if ($remove.Code -ne 0 -and (Test-Loaded)) {
                Write-WskbNote 'a loaded driver stays verified until it unloads or the machine reboots'
            } else {
                Write-WskbOk 'removed from the volatile list'
            }
        }
        $drivers = @(Get-PersistentDrivers)
        if ($drivers -contains $WskbDriverFileName) {
            $others = @($drivers | Where-Object { $_ -ne $WskbDriverFileName })
            if ($others.Count -gt 0) {
                Stop-Wskb "the persistent verifier settings also name $($others -join ', '); not touching them. To verify only those: verifier /standard /driver $($others -join ' ')"
            }
            if ($PSCmdlet.ShouldProcess('Driver Verifier settings', 'verifier /reset')) {
                $reset = Invoke-WskbNative 'verifier.exe' @('/reset')
                if ($reset.Code -ne 0 -and $reset.Code -ne 2) { Stop-Wskb "verifier /reset failed (exit $($reset.Code)): $($reset.Output -join ' ')" }
                Write-WskbOk 'persistent settings reset (takes effect at the next boot)'
            }
        } else {
            Write-WskbOk 'no persistent verifier setting for wskbridge.sys'
        }
    }
}
exit 0
