# SPDX-License-Identifier: MIT
<#
.SYNOPSIS
  Test-signs wskbridge.sys (SHA-256) with the throwaway certificate.

.DESCRIPTION
  signtool sign /fd SHA256 with the certificate from scripts\new-test-certificate.ps1 (found
  in LocalMachine\My by its subject, or given by -Thumbprint), then signtool verify /pa.
  Idempotent: a file already signed by that certificate is left as it is. No timestamp: a
  test-signed driver does not need one, and a VM may have no network.

.PARAMETER Path
  The driver; default driver\build\Release\<x64|ARM64>\wskbridge.sys for this machine.

.PARAMETER Thumbprint
  The certificate to sign with (LocalMachine\My); default: the wsk-bridge test certificate.

.EXAMPLE
  .\scripts\sign-driver.ps1
  .\scripts\sign-driver.ps1 -Path driver\build\Debug\x64\wskbridge.sys
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [string]$Path,
    [string]$Thumbprint
)
. "$PSScriptRoot\WskbCommon.ps1"
Assert-WskbElevated $WhatIfPreference

if (-not $Path) { $Path = Get-WskbBuiltDriverPath }
Write-WskbStep "signing $Path"
if (-not (Test-Path $Path)) {
    Stop-Wskb "no driver at ${Path}: build it first (msbuild driver\wskbridge.vcxproj /p:Configuration=Release /p:Platform=$(Get-WskbPlatform)), or pass -Path."
}
$Path = (Resolve-Path $Path).Path

if ($Thumbprint) {
    $certificate = Get-Item "Cert:\LocalMachine\My\$Thumbprint" -ErrorAction SilentlyContinue
    if (-not $certificate) { Stop-Wskb "no certificate $Thumbprint in LocalMachine\My." }
} else {
    $certificate = Get-WskbSigningCertificate
    if (-not $certificate) { Stop-Wskb 'no wsk-bridge test certificate: run scripts\new-test-certificate.ps1 first.' }
}

$current = Get-AuthenticodeSignature -FilePath $Path
if ($current.SignerCertificate -and $current.SignerCertificate.Thumbprint -eq $certificate.Thumbprint) {
    Write-WskbOk "already signed by $($certificate.Thumbprint) ($($current.Status))"
    exit 0
}

$signtool = Find-WskbSignTool
Write-WskbNote "signtool: $signtool"
if ($PSCmdlet.ShouldProcess($Path, "signtool sign /fd SHA256 /sha1 $($certificate.Thumbprint)")) {
    $result = Invoke-WskbNative $signtool @('sign', '/v', '/fd', 'SHA256', '/sm', '/s', 'My', '/sha1', $certificate.Thumbprint, $Path)
    if ($result.Code -ne 0) { Stop-Wskb "signtool sign failed (exit $($result.Code)):`n$($result.Output -join "`n")" }
    Write-WskbOk 'signed'
    $verify = Invoke-WskbNative $signtool @('verify', '/pa', '/v', $Path)
    if ($verify.Code -ne 0) {
        Stop-Wskb "signtool verify /pa failed (exit $($verify.Code)): is the certificate trusted (run scripts\new-test-certificate.ps1)?`n$($verify.Output -join "`n")"
    }
    Write-WskbOk 'signature verifies against the trusted test root'
}
exit 0
