# SPDX-License-Identifier: MIT
<#
.SYNOPSIS
  Installs and starts wskbridge.sys as a demand-start kernel service named WskBridge.

.DESCRIPTION
  Copies the signed driver to %SystemRoot%\System32\drivers\wskbridge.sys, creates the
  service (sc.exe create WskBridge type= kernel start= demand), starts it, and checks that
  \\.\WskBridge opens. Idempotent: an up-to-date running driver is left alone; a changed file
  is replaced (the service is stopped first, which needs every handle to \\.\WskBridge
  closed); a service with other settings is corrected.

  Checks first what would make the start fail, and says what to do: test signing not in
  effect (scripts\enable-testsigning.ps1, then reboot), driver not signed
  (scripts\sign-driver.ps1).

.PARAMETER Path
  The signed driver; default driver\build\Release\<x64|ARM64>\wskbridge.sys.

.PARAMETER NoStart
  Install only.

.EXAMPLE
  .\scripts\install-driver.ps1 -WhatIf
  .\scripts\install-driver.ps1
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [string]$Path,
    [switch]$NoStart
)
. "$PSScriptRoot\WskbCommon.ps1"
Assert-WskbElevated $WhatIfPreference

if (-not $Path) { $Path = Get-WskbBuiltDriverPath }
Write-WskbStep "installing $Path as the $WskbServiceName kernel service"
if (-not (Test-Path $Path)) {
    Stop-Wskb "no driver at ${Path}: build it (msbuild driver\wskbridge.vcxproj /p:Configuration=Release /p:Platform=$(Get-WskbPlatform)) and sign it (scripts\sign-driver.ps1), or pass -Path."
}
$Path = (Resolve-Path $Path).Path

# What would stop the driver from loading, before touching anything.
$testSigning = Get-WskbTestSigningState
if (-not $testSigning.Effective) {
    $hint = if ($testSigning.Configured) { 'it is set for the next boot: reboot first.' } else { 'run scripts\enable-testsigning.ps1, then reboot.' }
    if ($NoStart) { Write-Warning "test signing is not in effect, so the driver will not start yet: $hint" }
    else { Stop-Wskb "test signing is not in effect, so Windows will refuse to load a test-signed driver: $hint" 2 }
}
$signature = Get-AuthenticodeSignature -FilePath $Path
if (-not $signature.SignerCertificate) {
    Stop-Wskb "${Path} is not signed: run scripts\new-test-certificate.ps1 and scripts\sign-driver.ps1 first."
}
Write-WskbOk "signed by $($signature.SignerCertificate.Subject) ($($signature.Status))"

$service = Get-WskbService
$sameFile = (Test-Path $WskbInstalledPath) -and
    ((Get-FileHash $WskbInstalledPath -Algorithm SHA256).Hash -eq (Get-FileHash $Path -Algorithm SHA256).Hash)

if (-not $sameFile) {
    if ($service -and $service.Status -ne 'Stopped') {
        if ($PSCmdlet.ShouldProcess($WskbServiceName, 'stop the running driver to replace its file')) {
            $stop = Invoke-WskbNative 'sc.exe' @('stop', $WskbServiceName)
            $deadline = (Get-Date).AddSeconds(30)
            while ((Get-WskbService).Status -ne 'Stopped' -and (Get-Date) -lt $deadline) { Start-Sleep -Milliseconds 250 }
            if ((Get-WskbService).Status -ne 'Stopped') {
                Stop-Wskb "the running driver did not stop within 30 s ($($stop.Output -join ' ')): close every program that has \\.\WskBridge open (node processes using wsk-bridge), then run this again."
            }
            Write-WskbOk 'stopped the previous driver'
        }
    }
    if ($PSCmdlet.ShouldProcess($WskbInstalledPath, "copy $Path")) {
        Copy-Item -LiteralPath $Path -Destination $WskbInstalledPath -Force
        Write-WskbOk "copied to $WskbInstalledPath"
    }
} else {
    Write-WskbOk "$WskbInstalledPath is already this build"
}

# The service: kernel driver, demand start, image under System32\drivers.
$imagePath = "System32\drivers\$WskbDriverFileName"
if (-not $service) {
    if ($PSCmdlet.ShouldProcess($WskbServiceName, "sc.exe create type= kernel start= demand binPath= $imagePath")) {
        $create = Invoke-WskbNative 'sc.exe' @('create', $WskbServiceName, 'type=', 'kernel', 'start=', 'demand', 'error=', 'normal',
            'binPath=', $imagePath, 'DisplayName=', 'WSK Bridge test driver (wsk-bridge)')
        if ($create.Code -ne 0) {
            if ($create.Code -eq 1072) {
                Stop-Wskb 'the WskBridge service is marked for deletion: close every program that has \\.\WskBridge open (or reboot), then run this again.'
            }
            Stop-Wskb "sc.exe create failed (exit $($create.Code)): $($create.Output -join ' ')"
        }
        Write-WskbOk 'service created'
    }
} else {
    $config = Get-ItemProperty $WskbServiceKey -ErrorAction SilentlyContinue
    if (-not $config -or $config.Type -ne 1 -or $config.Start -ne 3 -or $config.ImagePath -notmatch [regex]::Escape($imagePath)) {
        if ($PSCmdlet.ShouldProcess($WskbServiceName, 'sc.exe config type= kernel start= demand')) {
            $fix = Invoke-WskbNative 'sc.exe' @('config', $WskbServiceName, 'type=', 'kernel', 'start=', 'demand', 'binPath=', $imagePath)
            if ($fix.Code -ne 0) { Stop-Wskb "sc.exe config failed (exit $($fix.Code)): $($fix.Output -join ' ')" }
            Write-WskbOk 'service settings corrected'
        }
    } else {
        Write-WskbOk 'service already configured (kernel, demand start)'
    }
}

if ($NoStart) { exit 0 }
$service = Get-WskbService
if ($service -and $service.Status -eq 'Running') {
    Write-WskbOk 'driver already running'
} elseif ($PSCmdlet.ShouldProcess($WskbServiceName, 'sc.exe start')) {
    $start = Invoke-WskbNative 'sc.exe' @('start', $WskbServiceName)
    if ($start.Code -ne 0) {
        $why = switch ($start.Code) {
            577 { 'Windows cannot verify the signature (ERROR_INVALID_IMAGE_HASH): test signing is off in the running kernel, or the file was not signed. Run scripts\enable-testsigning.ps1, reboot, scripts\sign-driver.ps1, then this again.' }
            1275 { 'the driver was blocked from loading (ERROR_DRIVER_BLOCKED): Secure Boot, HVCI (memory integrity) or a driver block policy. Turn off Memory integrity in Windows Security > Device security > Core isolation, or use the sim backend.' }
            2 { "the driver file is missing: $WskbInstalledPath." }
            1058 { 'the service is disabled: sc.exe config WskBridge start= demand.' }
            default { 'see the System event log (Get-WinEvent -LogName System -MaxEvents 20) for the loader''s reason.' }
        }
        Stop-Wskb "sc.exe start failed (exit $($start.Code)): $why`n$($start.Output -join "`n")"
    }
    Write-WskbOk 'driver started'
}

if (-not $WhatIfPreference) {
    $deviceError = Test-WskbDevice
    if ($null -ne $deviceError) {
        Stop-Wskb "the driver runs, but \\.\WskBridge does not open (Win32 error $deviceError). Check the System event log; npx wsk-bridge doctor says more."
    }
    Write-WskbOk '\\.\WskBridge opens: the kernel backend is ready (npx wsk-bridge doctor checks the protocol version too)'
}
exit 0
