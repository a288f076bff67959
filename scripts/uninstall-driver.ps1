# SPDX-License-Identifier: MIT
<#
.SYNOPSIS
  Stops and removes the WskBridge driver, leaving no service, file, certificate, verifier
  setting or registry key behind.

.DESCRIPTION
  sc.exe stop and delete the WskBridge service (its registry key, including the Parameters\Wdf
  subkey KMDF made, goes with it), deletes %SystemRoot%\System32\drivers\wskbridge.sys,
  removes wskbridge.sys from Driver Verifier if this project put it there, and removes the
  wsk-bridge test certificate from LocalMachine\My, Root and TrustedPublisher. Idempotent:
  whatever is already gone is skipped. Test signing is left as it is (other drivers may need
  it): scripts\enable-testsigning.ps1 -Disable turns it off.

.PARAMETER KeepCertificate
  Leaves the test certificate installed (to reinstall a new build without re-trusting).

.EXAMPLE
  .\scripts\uninstall-driver.ps1 -WhatIf
  .\scripts\uninstall-driver.ps1
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [switch]$KeepCertificate
)
. "$PSScriptRoot\WskbCommon.ps1"
Assert-WskbElevated $WhatIfPreference
$problems = @()

Write-WskbStep 'service'
$service = Get-WskbService
if (-not $service) {
    Write-WskbOk 'no WskBridge service'
} else {
    if ($service.Status -ne 'Stopped' -and $PSCmdlet.ShouldProcess($WskbServiceName, 'sc.exe stop')) {
        $stop = Invoke-WskbNative 'sc.exe' @('stop', $WskbServiceName)
        $deadline = (Get-Date).AddSeconds(30)
        while ((Get-WskbService).Status -ne 'Stopped' -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 250 }
        if ((Get-WskbService).Status -ne 'Stopped') {
            # A driver only unloads once every handle to its device is closed.
            Stop-Wskb "the driver did not stop within 30 s ($($stop.Output -join ' ')): close every program that has \\.\WskBridge open (node processes using wsk-bridge), then run this again."
        }
        Write-WskbOk 'stopped'
    }
    if ($PSCmdlet.ShouldProcess($WskbServiceName, 'sc.exe delete')) {
        $delete = Invoke-WskbNative 'sc.exe' @('delete', $WskbServiceName)
        if ($delete.Code -ne 0 -and $delete.Code -ne 1072 -and $delete.Code -ne 1060) {
            Stop-Wskb "sc.exe delete failed (exit $($delete.Code)): $($delete.Output -join ' ')"
        }
        $deadline = (Get-Date).AddSeconds(10)
        while ((Test-Path $WskbServiceKey) -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 250 }
        if (Test-Path $WskbServiceKey) {
            $problems += "the service is marked for deletion but its key $WskbServiceKey remains until every handle to it is closed (close services.msc / sc.exe / node, or reboot)"
        } else {
            Write-WskbOk 'service and its registry key removed'
        }
    }
}

Write-WskbStep 'driver file'
if (Test-Path $WskbInstalledPath) {
    if ($PSCmdlet.ShouldProcess($WskbInstalledPath, 'Remove-Item')) {
        try {
            Remove-Item -LiteralPath $WskbInstalledPath -Force
            Write-WskbOk "removed $WskbInstalledPath"
        } catch {
            $problems += "could not delete $WskbInstalledPath ($($_.Exception.Message)); the driver may still be loaded: reboot and run this again"
        }
    }
} else {
    Write-WskbOk 'no driver file'
}

Write-WskbStep 'Driver Verifier'
$query = Invoke-WskbNative 'verifier.exe' @('/querysettings')
if (($query.Output -join "`n") -match [regex]::Escape($WskbDriverFileName)) {
    if ($PSCmdlet.ShouldProcess($WskbDriverFileName, 'remove from Driver Verifier (scripts\verifier.ps1 -Disable)')) {
        Invoke-WskbScript 'verifier.ps1' @{ Disable = $true }
    }
} else {
    Write-WskbOk 'wskbridge.sys is not in the Driver Verifier settings'
}

Write-WskbStep 'test certificate'
if ($KeepCertificate) {
    Write-WskbOk 'kept (-KeepCertificate)'
} else {
    $removed = 0
    foreach ($store in 'My', 'Root', 'TrustedPublisher') {
        foreach ($certificate in Get-WskbCertificates $store) {
            if ($PSCmdlet.ShouldProcess("Cert:\LocalMachine\$store\$($certificate.Thumbprint)", 'Remove-Item')) {
                Remove-Item -LiteralPath "Cert:\LocalMachine\$store\$($certificate.Thumbprint)" -DeleteKey -ErrorAction SilentlyContinue
                if (Test-Path "Cert:\LocalMachine\$store\$($certificate.Thumbprint)") {
                    Remove-Item -LiteralPath "Cert:\LocalMachine\$store\$($certificate.Thumbprint)"
                }
                $removed++
            }
        }
    }
    Write-WskbOk $(if ($removed) { "removed $removed certificate entr$(if ($removed -eq 1) { 'y' } else { 'ies' })" } else { 'none installed' })
}

if ($problems) {
    Stop-Wskb ("not everything could be removed:`n  - " + ($problems -join "`n  - "))
}
Write-WskbOk 'wsk-bridge is uninstalled (test signing left as it was)'
exit 0
