r"""The PowerShell scripts ``defender_response`` runs by MDE live response, and how it reads their answer.

Live response runs only scripts from the tenant's library, so the MDR uploads these once per tenant
(Microsoft Defender portal → Settings → Endpoints → Live response library → Upload, or ``POST
/api/libraryfiles``), each under its name here: ``write_library(folder)`` writes them out for that.
Every script takes named parameters only, addresses its object literally (.NET registry and service
APIs, the Task Scheduler COM API: no wildcard, no provider path), and prints exactly one line
``GARRISON-RESULT {json}`` whose ``status`` is ``read``, ``changed``, ``unchanged``, ``not_found``,
``refused`` or ``error`` (with a ``reason``). JSON escapes every line break, so host data cannot forge a
second result line.
"""

from __future__ import annotations

import json
from typing import Any

from .._errors import PermanentError

REGISTRY = "garrison-reg.ps1"
TASK = "garrison-task.ps1"
SERVICE = "garrison-svc.ps1"
PROCESS = "garrison-proc.ps1"
MARKER = "GARRISON-RESULT "
MAX_TRANSCRIPT = 1_000_000

_PROLOGUE = r"""
$ErrorActionPreference = 'Stop'
function Write-Result([hashtable]$Result) {
    Write-Output ('GARRISON-RESULT ' + (ConvertTo-Json -InputObject $Result -Compress -Depth 5))
}
"""
_EPILOGUE = r"""
} catch {
    Write-Result @{ status = 'error'; reason = $_.Exception.Message }
    exit 1
}
"""

_REGISTRY = (
    r"""param(
    [Parameter(Mandatory = $true)][ValidateSet('read', 'delete', 'restore')][string]$Mode,
    [Parameter(Mandatory = $true)][string]$Key,
    [Parameter(Mandatory = $true)][string]$Name,
    [string]$Value64 = ''
)
"""
    + _PROLOGUE
    + r"""
$Hives = @{
    'HKEY_LOCAL_MACHINE' = 'LocalMachine'; 'HKEY_USERS' = 'Users'
    'HKEY_CLASSES_ROOT' = 'ClassesRoot'; 'HKEY_CURRENT_CONFIG' = 'CurrentConfig'
}
$Kinds = @{
    'String' = 'REG_SZ'; 'ExpandString' = 'REG_EXPAND_SZ'; 'MultiString' = 'REG_MULTI_SZ'
    'DWord' = 'REG_DWORD'; 'QWord' = 'REG_QWORD'; 'Binary' = 'REG_BINARY'
}
function Open-Key([bool]$Writable, [bool]$Create) {
    $hive, $sub = $Key.Split([char[]]@([char]'\'), 2)
    $view = [Microsoft.Win32.RegistryView]::Registry64
    $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]$Hives[$hive], $view)
    if ($Create) { return $base.CreateSubKey($sub) }
    return $base.OpenSubKey($sub, $Writable)
}
function Read-Value($Opened) {
    if ($null -eq $Opened -or -not ($Opened.GetValueNames() -contains $Name)) { return $null }
    $kind = $Opened.GetValueKind($Name).ToString()
    $raw = [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames
    $data = $Opened.GetValue($Name, $null, $raw)
    switch ($kind) {
        'DWord' { $data = [BitConverter]::ToUInt32([BitConverter]::GetBytes([int32]$data), 0) }
        'QWord' { $data = [BitConverter]::ToUInt64([BitConverter]::GetBytes([int64]$data), 0) }
        'Binary' { $data = [Convert]::ToBase64String([byte[]]$data) }
        'MultiString' { $data = [string[]]$data }
        'String' { }
        'ExpandString' { }
        default { throw ('value kind ' + $kind + ' cannot be captured for restore') }
    }
    return @{ type = $Kinds[$kind]; data = $data }
}
try {
    $current = Read-Value (Open-Key $false $false)
    if ($Mode -eq 'read') {
        Write-Result @{ status = 'read'; present = ($null -ne $current); value = $current }
    } elseif ($Mode -eq 'delete') {
        if ($null -eq $current) { Write-Result @{ status = 'unchanged' } }
        else {
            (Open-Key $true $false).DeleteValue($Name)
            Write-Result @{ status = 'changed'; value = $current }
        }
    } else {
        $wanted = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($Value64)) | ConvertFrom-Json
        $same = ($null -ne $current) -and ($current.type -eq $wanted.type) -and
            ((ConvertTo-Json -InputObject $current.data -Compress) -eq
                (ConvertTo-Json -InputObject $wanted.data -Compress))
        if ($same) { Write-Result @{ status = 'unchanged' } }
        else {
            $kind = ($Kinds.GetEnumerator() | Where-Object { $_.Value -eq $wanted.type }).Key
            switch ($kind) {
                'DWord' { $data = [BitConverter]::ToInt32([BitConverter]::GetBytes([uint32]$wanted.data), 0) }
                'QWord' { $data = [BitConverter]::ToInt64([BitConverter]::GetBytes([uint64]$wanted.data), 0) }
                'Binary' { $data = [Convert]::FromBase64String([string]$wanted.data) }
                'MultiString' { $data = [string[]]@($wanted.data) }
                default { $data = [string]$wanted.data }
            }
            (Open-Key $true $true).SetValue($Name, $data, [Microsoft.Win32.RegistryValueKind]$kind)
            Write-Result @{ status = 'changed' }
        }
    }
"""
    + _EPILOGUE
)

_TASK = (
    r"""param(
    [Parameter(Mandatory = $true)][ValidateSet('read', 'delete', 'restore')][string]$Mode,
    [Parameter(Mandatory = $true)][string]$Name,
    [string]$Xml64 = ''
)
"""
    + _PROLOGUE
    + r"""
$split = $Name.LastIndexOf('\')
$folderPath = '\'
if ($split -gt 0) { $folderPath = $Name.Substring(0, $split) }
$taskName = $Name.Substring($split + 1)
try {
    $scheduler = New-Object -ComObject 'Schedule.Service'
    $scheduler.Connect()
    $task = $null
    try { $task = $scheduler.GetFolder($folderPath).GetTask($taskName) } catch { $task = $null }
    if ($Mode -eq 'read') {
        $enabled = ($null -ne $task) -and [bool]$task.Enabled
        Write-Result @{ status = 'read'; present = ($null -ne $task); enabled = $enabled }
    } elseif ($Mode -eq 'delete') {
        if ($null -eq $task) { Write-Result @{ status = 'unchanged' } }
        else {
            $xml = [string]$task.Xml
            $enabled = [bool]$task.Enabled
            $scheduler.GetFolder($folderPath).DeleteTask($taskName, 0)
            Write-Result @{ status = 'changed'; xml = $xml; enabled = $enabled }
        }
    } else {
        $wanted = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($Xml64)) | ConvertFrom-Json
        if (($null -ne $task) -and ([string]$task.Xml -eq $wanted.xml)) {
            Write-Result @{ status = 'unchanged' }
        } else {
            $taskPath = $folderPath.TrimEnd('\') + '\'
            Register-ScheduledTask -Xml $wanted.xml -TaskName $taskName -TaskPath $taskPath -Force | Out-Null
            Write-Result @{ status = 'changed' }
        }
    }
"""
    + _EPILOGUE
)

_SERVICE = (
    r"""param(
    [Parameter(Mandatory = $true)][ValidateSet('read', 'disable', 'enable')][string]$Mode,
    [Parameter(Mandatory = $true)][string]$Name,
    [ValidateSet('', 'auto', 'manual')][string]$StartType = '',
    [ValidateSet('', 'true', 'false')][string]$Running = ''
)
"""
    + _PROLOGUE
    + r"""
$Starts = @{ 'Automatic' = 'auto'; 'Manual' = 'manual'; 'Disabled' = 'disabled' }
try {
    Add-Type -AssemblyName System.ServiceProcess
    $service = New-Object System.ServiceProcess.ServiceController -ArgumentList $Name
    $found = $true
    try { $start = $service.StartType.ToString(); $state = $service.Status.ToString() }
    catch { $found = $false }
    if (-not $found) { Write-Result @{ status = 'not_found'; reason = ('no service named ' + $Name) } }
    elseif (-not $Starts.ContainsKey($start)) {
        Write-Result @{ status = 'refused'; reason = ('start type ' + $start + ': a driver, not a service') }
    } elseif ($Mode -eq 'read') {
        Write-Result @{ status = 'read'; start_type = $Starts[$start]; running = ($state -eq 'Running') }
    }
    elseif ($Mode -eq 'disable') {
        if ($start -eq 'Disabled') { Write-Result @{ status = 'unchanged' } }
        else {
            Set-Service -InputObject $service -StartupType Disabled
            $wasRunning = $state -eq 'Running'
            if ($wasRunning) {
                $service.Stop(); $service.WaitForStatus('Stopped', [TimeSpan]::FromSeconds(60))
            }
            Write-Result @{ status = 'changed'; start_type = $Starts[$start]; running = $wasRunning }
        }
    } else {
        $target = 'Automatic'
        if ($StartType -eq 'manual') { $target = 'Manual' }
        $changed = $start -ne $target
        if ($changed) { Set-Service -InputObject $service -StartupType $target }
        if (($Running -eq 'true') -and ($state -ne 'Running')) {
            $service.Start(); $service.WaitForStatus('Running', [TimeSpan]::FromSeconds(60)); $changed = $true
        }
        $status = 'unchanged'
        if ($changed) { $status = 'changed' }
        Write-Result @{ status = $status }
    }
"""
    + _EPILOGUE
)

_PROCESS = (
    r"""param(
    [Parameter(Mandatory = $true)][ValidateSet('read', 'kill')][string]$Mode,
    [Parameter(Mandatory = $true)][int]$ProcessId,
    [string]$Name = ''
)
"""
    + _PROLOGUE
    + r"""
$Critical = @('System', 'Idle', 'smss', 'csrss', 'wininit', 'winlogon', 'services', 'lsass')
try {
    $process = Get-Process -Id $ProcessId -ErrorAction SilentlyContinue
    $image = ''
    if ($null -ne $process) { $image = $process.ProcessName }
    $expected = [IO.Path]::GetFileNameWithoutExtension($Name)
    $same = ($null -ne $process) -and (($Name -eq '') -or ($image -eq $expected))
    if ($Mode -eq 'read') { Write-Result @{ status = 'read'; running = $same; image = $image } }
    elseif ($null -eq $process) { Write-Result @{ status = 'unchanged' } }
    elseif (-not $same) {
        $why = 'pid ' + $ProcessId + ' is ' + $image + ', not ' + $expected + ': refusing to kill'
        Write-Result @{ status = 'refused'; reason = $why }
    } elseif ($Critical -contains $image) {
        Write-Result @{ status = 'refused'; reason = ($image + ' is critical to Windows: refusing to kill') }
    } else {
        Stop-Process -Id $ProcessId -Force
        $process.WaitForExit(15000) | Out-Null
        Write-Result @{ status = 'changed'; image = $image }
    }
"""
    + _EPILOGUE
)


def _script(name: str, body: str) -> str:
    header = (
        f"# {name}: Garrison response library script for Microsoft Defender for Endpoint live response.\n"
        "# Upload once to the tenant's live response library under this name; Garrison runs it with\n"
        "# RunScript and reads the one GARRISON-RESULT line it prints.\n"
    )
    return header + body


LIBRARY: dict[str, str] = {
    REGISTRY: _script(REGISTRY, _REGISTRY),
    TASK: _script(TASK, _TASK),
    SERVICE: _script(SERVICE, _SERVICE),
    PROCESS: _script(PROCESS, _PROCESS),
}


def script_result(transcript: bytes, script: str) -> dict[str, Any]:
    """The one ``GARRISON-RESULT`` object in a RunScript transcript (MDE's result file: ``script_name``,
    ``exit_code``, ``script_output``, ``script_errors``); PermanentError when there is not exactly one."""
    if len(transcript) > MAX_TRANSCRIPT:
        raise PermanentError(f"{script}: live response result is {len(transcript)} bytes, over the cap")
    try:
        document = json.loads(transcript)
    except ValueError:
        raise PermanentError(f"{script}: live response result is not JSON") from None
    output = document.get("script_output") if isinstance(document, dict) else None
    if not isinstance(output, str):
        raise PermanentError(f"{script}: live response result has no script_output")
    # Split on \n only: str.splitlines would also break at U+2028 and friends, which JSON leaves unescaped.
    found = [line.strip()[len(MARKER) :] for line in output.split("\n") if line.strip().startswith(MARKER)]
    if len(found) != 1:
        raise PermanentError(f"{script}: expected one {MARKER.strip()} line, found {len(found)}")
    try:
        result = json.loads(found[0])
    except ValueError:
        raise PermanentError(f"{script}: its {MARKER.strip()} line is not JSON") from None
    if not isinstance(result, dict) or not isinstance(result.get("status"), str):
        raise PermanentError(f"{script}: its {MARKER.strip()} line has no status")
    return result
