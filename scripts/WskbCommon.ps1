# SPDX-License-Identifier: MIT
#
# Shared by the wsk-bridge Windows scripts (dot-sourced: . "$PSScriptRoot\WskbCommon.ps1").
# Windows PowerShell 5.1 and PowerShell 7 alike; no module needed.

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$script:WskbServiceName = 'WskBridge'
$script:WskbDriverFileName = 'wskbridge.sys'
$script:WskbInstalledPath = Join-Path $env:SystemRoot "System32\drivers\$script:WskbDriverFileName"
$script:WskbCertificateSubject = 'CN=wsk-bridge test signing (throwaway)'
$script:WskbRepoRoot = Split-Path -Parent $PSScriptRoot
$script:WskbServiceKey = "HKLM:\SYSTEM\CurrentControlSet\Services\$script:WskbServiceName"

function Write-WskbStep([string]$Message) { Write-Host "== $Message" -ForegroundColor Cyan }
function Write-WskbOk([string]$Message) { Write-Host "   ok: $Message" -ForegroundColor Green }
function Write-WskbNote([string]$Message) { Write-Host "   $Message" }

# Stops the script with a message that says what to do. Exit code 1 (2 for "needs a reboot").
function Stop-Wskb([string]$Message, [int]$Code = 1) {
    Write-Host "wsk-bridge: $Message" -ForegroundColor Red
    exit $Code
}

function Test-WskbElevated {
    $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
    return ([Security.Principal.WindowsPrincipal]$identity).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
}

# Every script changes machine state, so every one needs an elevated shell; a -WhatIf run only
# reads, and is allowed without (it says what it would do and what it could not check).
function Assert-WskbElevated([bool]$WhatIfRun) {
    if (Test-WskbElevated) { return }
    if ($WhatIfRun) {
        Write-Warning 'Not elevated: this -WhatIf run shows the plan only; some checks need an Administrator shell.'
        return
    }
    Stop-Wskb 'this script needs an elevated PowerShell: right-click PowerShell, "Run as administrator", then run it again.'
}

# Runs a native program, returns @{ Code; Output } (stdout and stderr merged, as lines).
function Invoke-WskbNative([string]$FilePath, [string[]]$Arguments) {
    $previous = $ErrorActionPreference
    $ErrorActionPreference = 'Continue'
    try {
        $output = & $FilePath @Arguments 2>&1 | ForEach-Object { "$_" }
        $code = $LASTEXITCODE
    } finally {
        $ErrorActionPreference = $previous
    }
    return [pscustomobject]@{ Code = $code; Output = @($output) }
}

# Test signing: Configured = what bcdedit holds for the next boot; Effective = what the running
# kernel was booted with (SystemStartOptions, readable without elevation).
function Get-WskbTestSigningState {
    $effective = $false
    try {
        $options = (Get-ItemProperty 'HKLM:\SYSTEM\CurrentControlSet\Control' -Name SystemStartOptions).SystemStartOptions
        $effective = $options -match '(^|\s)TESTSIGNING(\s|$)'
    } catch { }
    $configured = $null
    if (Test-WskbElevated) {
        $bcd = Invoke-WskbNative 'bcdedit.exe' @('/enum', '{current}')
        if ($bcd.Code -eq 0) {
            $line = $bcd.Output | Where-Object { $_ -match '^\s*testsigning\s+' } | Select-Object -First 1
            $configured = [bool]($line -and $line -match '\s(Yes|On)\s*$')
        }
    }
    return [pscustomobject]@{ Effective = [bool]$effective; Configured = $configured }
}

# $true / $false, or $null where the firmware is BIOS or the cmdlet is unsupported.
function Get-WskbSecureBoot {
    try { return [bool](Confirm-SecureBootUEFI -ErrorAction Stop) } catch { return $null }
}

function Get-WskbPlatform {
    $arch = if ($env:PROCESSOR_ARCHITEW6432) { $env:PROCESSOR_ARCHITEW6432 } else { $env:PROCESSOR_ARCHITECTURE }
    switch ($arch) {
        'AMD64' { return 'x64' }
        'ARM64' { return 'ARM64' }
        default { Stop-Wskb "unsupported processor architecture '$arch': wskbridge.sys is built for x64 and ARM64." }
    }
}

function Get-WskbBuiltDriverPath([string]$Configuration = 'Release') {
    return Join-Path $script:WskbRepoRoot "driver\build\$Configuration\$(Get-WskbPlatform)\$script:WskbDriverFileName"
}

# The newest signtool.exe of the installed Windows Kits (or the one on PATH).
function Find-WskbSignTool {
    $onPath = Get-Command signtool.exe -ErrorAction SilentlyContinue
    if ($onPath) { return $onPath.Source }
    $hostArch = if ((Get-WskbPlatform) -eq 'ARM64') { 'arm64' } else { 'x64' }
    $kits = Join-Path ${env:ProgramFiles(x86)} 'Windows Kits\10\bin'
    if (Test-Path $kits) {
        $candidates = Get-ChildItem $kits -Directory | Where-Object { $_.Name -match '^10\.' } |
            Sort-Object { [version]$_.Name } -Descending |
            ForEach-Object { Join-Path $_.FullName "$hostArch\signtool.exe" } | Where-Object { Test-Path $_ }
        if ($candidates) { return @($candidates)[0] }
        $legacy = Join-Path $kits "$hostArch\signtool.exe"
        if (Test-Path $legacy) { return $legacy }
    }
    Stop-Wskb 'signtool.exe not found: install the Windows SDK or WDK (see docs/windows.md), or put signtool.exe on PATH.'
}

# The throwaway test certificates of this project in one store (LocalMachine\<Store>).
function Get-WskbCertificates([string]$Store) {
    $path = "Cert:\LocalMachine\$Store"
    if (-not (Test-Path $path)) { return @() }
    return @(Get-ChildItem $path | Where-Object { $_.Subject -eq $script:WskbCertificateSubject })
}

# The signing certificate: the newest valid one with a private key in LocalMachine\My.
function Get-WskbSigningCertificate {
    return Get-WskbCertificates 'My' | Where-Object { $_.HasPrivateKey -and $_.NotAfter -gt (Get-Date).AddDays(1) } |
        Sort-Object NotAfter -Descending | Select-Object -First 1
}

# Service state via the SCM ($null when the service does not exist).
function Get-WskbService {
    return Get-Service -Name $script:WskbServiceName -ErrorAction SilentlyContinue
}

# Opens \\.\WskBridge the way the addon does; returns $null on success or the Win32 error.
function Test-WskbDevice {
    if (-not ('WskbNative' -as [type])) {
        Add-Type -Namespace '' -Name 'WskbNative' -MemberDefinition @'
[System.Runtime.InteropServices.DllImport("kernel32.dll", SetLastError = true, CharSet = System.Runtime.InteropServices.CharSet.Unicode)]
public static extern System.IntPtr CreateFileW(string name, int access, int share, System.IntPtr security, int disposition, int flags, System.IntPtr template);
[System.Runtime.InteropServices.DllImport("kernel32.dll", SetLastError = true)]
public static extern bool CloseHandle(System.IntPtr handle);
'@
    }
    # GENERIC_READ | GENERIC_WRITE as a signed int: Windows PowerShell reads 0xC0000000 as a
    # negative Int32, which does not convert to a uint parameter.
    $access = [int]-1073741824
    $handle = [WskbNative]::CreateFileW('\\.\WskBridge', $access, 0, [IntPtr]::Zero, 3, 0x40000000, [IntPtr]::Zero)
    $err = [Runtime.InteropServices.Marshal]::GetLastWin32Error()
    if ($handle -eq [IntPtr](-1)) { return $err }
    [void][WskbNative]::CloseHandle($handle)
    return $null
}

# Runs another of these scripts and stops this one if it failed. The scripts end with an
# explicit exit code, so $LASTEXITCODE is theirs and not that of a native tool they ran.
function Invoke-WskbScript([string]$Name, [hashtable]$Parameters = @{}) {
    $global:LASTEXITCODE = 0
    & (Join-Path $PSScriptRoot $Name) @Parameters
    if ($LASTEXITCODE -ne 0) { Stop-Wskb "$Name failed (exit $LASTEXITCODE); see its message above." $LASTEXITCODE }
}
