# SPDX-License-Identifier: MIT
<#
.SYNOPSIS
  One command on a Windows VM: build the driver, test-sign it, install it, run the test suite
  against the kernel backend (and the sim backend), and collect the logs.

.DESCRIPTION
  Steps (each one idempotent, each failure says what to do):
    1. checks: elevated shell, test signing in effect, Node.js >= 20, MSBuild with the WDK;
    2. msbuild driver\wskbridge.vcxproj (Release, this machine's platform);
    3. scripts\new-test-certificate.ps1, scripts\sign-driver.ps1;
    4. with -Verifier: scripts\verifier.ps1 -Enable -Volatile (before the driver loads);
    5. scripts\install-driver.ps1 (stops and replaces an older build);
    6. npm ci (unless -SkipNpmInstall), npm run build;
    7. mocha with WSKB_BACKEND=kernel, then WSKB_BACKEND=sim (unless -KernelOnly);
    8. logs to -LogDirectory: build, mocha outputs, verifier state, service config, the
       System event log entries of the last hour that name WskBridge, and a summary;
    9. with -Uninstall: scripts\uninstall-driver.ps1 at the end.
  Exit code 0 only when every suite run passed.

.PARAMETER Spec
  Mocha spec to run (default: the package's .mocharc, i.e. the whole suite).

.EXAMPLE
  .\scripts\vm-test.ps1
  .\scripts\vm-test.ps1 -Verifier -Uninstall
  .\scripts\vm-test.ps1 -Spec 'dist/test/conformance/**/*.test.js' -KernelOnly
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [ValidateSet('Release', 'Debug')][string]$Configuration = 'Release',
    [switch]$Verifier,
    [switch]$KernelOnly,
    [switch]$SkipBuild,
    [switch]$SkipNpmInstall,
    [switch]$Uninstall,
    [string]$Spec,
    [string]$LogDirectory = (Join-Path (Split-Path -Parent $PSScriptRoot) 'build\vm-test-logs')
)
. "$PSScriptRoot\WskbCommon.ps1"
Assert-WskbElevated $WhatIfPreference
$started = Get-Date
New-Item -ItemType Directory -Force -Path $LogDirectory | Out-Null
$LogDirectory = (Resolve-Path $LogDirectory).Path
$platform = Get-WskbPlatform
$summary = New-Object System.Collections.Generic.List[string]

function Save-WskbLogs {
    Write-WskbStep "collecting logs in $LogDirectory"
    (Invoke-WskbNative 'sc.exe' @('qc', $WskbServiceName)).Output | Set-Content (Join-Path $LogDirectory 'service-config.txt')
    (Invoke-WskbNative 'sc.exe' @('query', $WskbServiceName)).Output | Set-Content (Join-Path $LogDirectory 'service-state.txt')
    (Invoke-WskbNative 'verifier.exe' @('/query')).Output | Set-Content (Join-Path $LogDirectory 'verifier-query.txt')
    $state = Get-WskbTestSigningState
    "test signing: effective=$($state.Effective) configured=$($state.Configured) secureboot=$(Get-WskbSecureBoot)" |
        Set-Content (Join-Path $LogDirectory 'machine.txt')
    [Environment]::OSVersion.VersionString | Add-Content (Join-Path $LogDirectory 'machine.txt')
    try {
        Get-WinEvent -FilterHashtable @{ LogName = 'System'; StartTime = $started.AddHours(-1) } -ErrorAction Stop |
            Where-Object { $_.Message -match 'WskBridge|wskbridge' -or $_.ProviderName -match 'Service Control Manager|BugCheck|WER' } |
            Format-List TimeCreated, Id, ProviderName, LevelDisplayName, Message |
            Out-String -Width 200 | Set-Content (Join-Path $LogDirectory 'system-events.txt')
    } catch {
        "no matching System events ($($_.Exception.Message))" | Set-Content (Join-Path $LogDirectory 'system-events.txt')
    }
    $summary | Set-Content (Join-Path $LogDirectory 'summary.txt')
}

# ---- 1. checks -------------------------------------------------------------------------------
Write-WskbStep 'checks'
$testSigning = Get-WskbTestSigningState
if (-not $testSigning.Effective) {
    Stop-Wskb 'test signing is not in effect: run scripts\enable-testsigning.ps1 -Restart, then this again after the reboot.' 2
}
Write-WskbOk 'test signing in effect'
$node = Get-Command node -ErrorAction SilentlyContinue
if (-not $node) { Stop-Wskb 'Node.js is not on PATH: install Node.js 20 or later (winget install OpenJS.NodeJS.LTS), open a new shell.' }
$nodeVersion = (& node -p 'process.versions.node').Trim()
if ([version]$nodeVersion -lt [version]'20.0.0') { Stop-Wskb "Node.js $nodeVersion is too old: wsk-bridge needs 20 or later." }
Write-WskbOk "Node.js $nodeVersion"

# ---- 2. build the driver -----------------------------------------------------------------------
$driverPath = Get-WskbBuiltDriverPath $Configuration
if (-not $SkipBuild) {
    Write-WskbStep "building wskbridge.sys ($Configuration|$platform)"
    $vswhere = Join-Path ${env:ProgramFiles(x86)} 'Microsoft Visual Studio\Installer\vswhere.exe'
    if (-not (Test-Path $vswhere)) { Stop-Wskb 'Visual Studio 2022 is not installed (no vswhere.exe): install it with the "Desktop development with C++" workload and the WDK (docs/windows.md).' }
    $msbuild = & $vswhere -latest -products * -requires Microsoft.Component.MSBuild -find 'MSBuild\**\Bin\MSBuild.exe' | Select-Object -First 1
    if (-not $msbuild) { Stop-Wskb 'MSBuild not found: install the "Desktop development with C++" workload of Visual Studio 2022.' }
    if ($PSCmdlet.ShouldProcess('driver\wskbridge.vcxproj', "msbuild /p:Configuration=$Configuration /p:Platform=$platform")) {
        $buildLog = Join-Path $LogDirectory 'driver-build.txt'
        $build = Invoke-WskbNative $msbuild @((Join-Path $WskbRepoRoot 'driver\wskbridge.vcxproj'), '/nologo', '/m',
            "/p:Configuration=$Configuration", "/p:Platform=$platform", '/v:minimal')
        $build.Output | Set-Content $buildLog
        if ($build.Code -ne 0) {
            $hint = if (($build.Output -join ' ') -match 'WindowsKernelModeDriver10\.0') {
                ' The WDK is missing or does not match Visual Studio: install the WDK and its Visual Studio extension (docs/windows.md).'
            } else { '' }
            $summary.Add('driver build: FAILED')
            Save-WskbLogs
            Stop-Wskb "the driver build failed (log: $buildLog).$hint`n$(($build.Output | Select-Object -Last 30) -join "`n")"
        }
        $summary.Add('driver build: ok')
        Write-WskbOk "built $driverPath"
    }
}

# ---- 3-5. sign, verifier, install ---------------------------------------------------------------
Invoke-WskbScript 'new-test-certificate.ps1' | Out-Null
Invoke-WskbScript 'sign-driver.ps1' @{ Path = $driverPath }
if ($Verifier) {
    $service = Get-WskbService
    if ($service -and $service.Status -eq 'Running' -and $PSCmdlet.ShouldProcess($WskbServiceName, 'stop before enabling the verifier')) {
        Invoke-WskbNative 'sc.exe' @('stop', $WskbServiceName) | Out-Null
        Start-Sleep -Seconds 2
    }
    Invoke-WskbScript 'verifier.ps1' @{ Enable = $true; Volatile = $true }
}
Invoke-WskbScript 'install-driver.ps1' @{ Path = $driverPath }
$summary.Add('driver installed and started')

# ---- 6-7. the suite ---------------------------------------------------------------------------
Push-Location $WskbRepoRoot
$failed = $false
try {
    if (-not $SkipNpmInstall -and $PSCmdlet.ShouldProcess($WskbRepoRoot, 'npm ci')) {
        Write-WskbStep 'npm ci (builds the addon with node-gyp)'
        $ci = Invoke-WskbNative 'npm.cmd' @('ci')
        $ci.Output | Set-Content (Join-Path $LogDirectory 'npm-ci.txt')
        if ($ci.Code -ne 0) { Save-WskbLogs; Stop-Wskb "npm ci failed (log: $(Join-Path $LogDirectory 'npm-ci.txt'))" }
    }
    if ($PSCmdlet.ShouldProcess($WskbRepoRoot, 'npm run build:ts')) {
        $ts = Invoke-WskbNative 'npm.cmd' @('run', 'build:ts')
        if ($ts.Code -ne 0) { $ts.Output | Set-Content (Join-Path $LogDirectory 'build-ts.txt'); Save-WskbLogs; Stop-Wskb 'npm run build:ts failed' }
    }
    $backends = if ($KernelOnly) { @('kernel') } else { @('kernel', 'sim') }
    foreach ($backend in $backends) {
        Write-WskbStep "mocha, WSKB_BACKEND=$backend"
        if (-not $PSCmdlet.ShouldProcess("mocha ($backend)", 'run')) { continue }
        $env:WSKB_BACKEND = $backend
        $mochaArgs = @('node_modules\mocha\bin\mocha.js', '--reporter', 'spec', '--no-colors')
        if ($Spec) { $mochaArgs += $Spec }
        $log = Join-Path $LogDirectory "mocha-$backend.txt"
        $run = Invoke-WskbNative 'node' $mochaArgs
        $run.Output | Set-Content $log
        $tail = ($run.Output | Select-String -Pattern '^\s*\d+ (passing|failing|pending)' | ForEach-Object { $_.Line.Trim() }) -join ', '
        if ($run.Code -ne 0) {
            $failed = $true
            $summary.Add("mocha $($backend): FAILED ($tail) exit $($run.Code)")
            Write-Host "   FAILED: $tail (log: $log)" -ForegroundColor Red
        } else {
            $summary.Add("mocha $($backend): ok ($tail)")
            Write-WskbOk "$tail (log: $log)"
        }
    }
} finally {
    Remove-Item Env:\WSKB_BACKEND -ErrorAction SilentlyContinue
    Pop-Location
}

# ---- 8-9. logs, cleanup -------------------------------------------------------------------------
Save-WskbLogs
if ($Uninstall) { Invoke-WskbScript 'uninstall-driver.ps1' }
Write-WskbStep 'summary'
$summary | ForEach-Object { Write-WskbNote $_ }
if ($failed) { exit 1 }
exit 0
