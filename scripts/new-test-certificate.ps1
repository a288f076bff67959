# SPDX-License-Identifier: MIT
<#
.SYNOPSIS
  Creates the throwaway code-signing certificate that test-signs wskbridge.sys, and trusts it
  on this machine.

.DESCRIPTION
  A self-signed SHA-256 code-signing certificate, subject "CN=wsk-bridge test signing
  (throwaway)", private key in LocalMachine\My (non-exportable), public part added to
  LocalMachine\Root and LocalMachine\TrustedPublisher so that signtool can verify the
  signature. Idempotent: an existing valid certificate is reused and its trust re-checked.
  It is a test certificate for test-signing mode only; it does not let a driver load on a
  machine without test signing. scripts\uninstall-driver.ps1 removes it from all three stores.

.PARAMETER ValidDays
  Lifetime of a newly created certificate (default 90 days).

.PARAMETER ExportPath
  Where to write the public certificate (.cer); default driver\build\wskbridge-test.cer.

.EXAMPLE
  .\scripts\new-test-certificate.ps1
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [ValidateRange(1, 3650)][int]$ValidDays = 90,
    [string]$ExportPath = (Join-Path (Split-Path -Parent $PSScriptRoot) 'driver\build\wskbridge-test.cer')
)
. "$PSScriptRoot\WskbCommon.ps1"
Assert-WskbElevated $WhatIfPreference

Write-WskbStep 'test certificate'
$certificate = Get-WskbSigningCertificate
if ($certificate) {
    Write-WskbOk "reusing $($certificate.Thumbprint) (valid until $($certificate.NotAfter.ToString('yyyy-MM-dd')))"
} elseif ($PSCmdlet.ShouldProcess('Cert:\LocalMachine\My', "New-SelfSignedCertificate -Subject '$WskbCertificateSubject'")) {
    $certificate = New-SelfSignedCertificate -Type CodeSigningCert -Subject $WskbCertificateSubject `
        -CertStoreLocation 'Cert:\LocalMachine\My' -HashAlgorithm SHA256 -KeyAlgorithm RSA -KeyLength 3072 `
        -KeyExportPolicy NonExportable -NotAfter (Get-Date).AddDays($ValidDays) `
        -FriendlyName 'wsk-bridge throwaway test-signing certificate'
    Write-WskbOk "created $($certificate.Thumbprint)"
}
if (-not $certificate) {
    Write-WskbNote '(-WhatIf: a new certificate would be created, exported and trusted)'
    exit 0
}

if ($PSCmdlet.ShouldProcess($ExportPath, 'Export-Certificate')) {
    New-Item -ItemType Directory -Force -Path (Split-Path -Parent $ExportPath) | Out-Null
    Export-Certificate -Cert $certificate -FilePath $ExportPath -Force | Out-Null
    Write-WskbOk "public certificate: $ExportPath"
}

foreach ($store in 'Root', 'TrustedPublisher') {
    $present = Get-WskbCertificates $store | Where-Object { $_.Thumbprint -eq $certificate.Thumbprint }
    if ($present) {
        Write-WskbOk "already trusted in LocalMachine\$store"
        continue
    }
    if ($PSCmdlet.ShouldProcess("Cert:\LocalMachine\$store", "add $($certificate.Thumbprint)")) {
        # X509Store rather than Import-Certificate: it adds without a UI prompt for Root.
        $target = New-Object System.Security.Cryptography.X509Certificates.X509Store($store, 'LocalMachine')
        $target.Open('ReadWrite')
        try {
            $public = New-Object System.Security.Cryptography.X509Certificates.X509Certificate2(, $certificate.RawData)
            $target.Add($public)
        } finally {
            $target.Close()
        }
        Write-WskbOk "trusted in LocalMachine\$store"
    }
}
Write-Output $certificate.Thumbprint
exit 0
