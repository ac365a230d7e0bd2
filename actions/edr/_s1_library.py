r"""The PowerShell scripts ``sentinelone_response`` runs by Remote Script Orchestration.

RSO runs only scripts of the console's script library, so the MDR uploads these once (Sentinels →
Automation → Remote Ops → Script library, script type "action", Windows) and gives each one's id in the
tenant's settings (``registry_script_id``, ``task_script_id``, ``service_script_id``); ``write_library``
writes them out for that. Each takes named parameters only (the ``inputParams`` Garrison sends: ``-Key
'…' -Name '…'``), addresses its object literally (.NET registry and service APIs, the Task Scheduler COM
API: no wildcard, no provider path), leaves an object that is already gone as it is, and exits 1 on any
failure so the task ends ``failed``.

What a script prints stays in the console: SentinelOne's API gives no script output back (only a link to
an archive of it), so these scripts capture nothing for a rollback; see ``sentinelone_response``.
"""

from __future__ import annotations

REGISTRY = "garrison-s1-reg.ps1"
TASK = "garrison-s1-task.ps1"
SERVICE = "garrison-s1-svc.ps1"

_CATCH = r"""
} catch {
    Write-Output ('GARRISON error: ' + $_.Exception.Message)
    exit 1
}
"""

_REGISTRY = (
    r"""param(
    [Parameter(Mandatory = $true)][string]$Key,
    [Parameter(Mandatory = $true)][string]$Name
)
$ErrorActionPreference = 'Stop'
$Hives = @{
    'HKEY_LOCAL_MACHINE' = 'LocalMachine'; 'HKEY_USERS' = 'Users'
    'HKEY_CLASSES_ROOT' = 'ClassesRoot'; 'HKEY_CURRENT_CONFIG' = 'CurrentConfig'
}
try {
    $hive, $sub = $Key.Split([char[]]@([char]'\'), 2)
    if (-not $Hives.ContainsKey($hive)) { throw ('not a registry hive: ' + $hive) }
    $view = [Microsoft.Win32.RegistryView]::Registry64
    $base = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]$Hives[$hive], $view)
    $opened = $base.OpenSubKey($sub, $true)
    if ($null -eq $opened -or -not ($opened.GetValueNames() -contains $Name)) {
        Write-Output 'GARRISON unchanged: the value is absent'
        exit 0
    }
    $opened.DeleteValue($Name)
    Write-Output 'GARRISON changed: the value was deleted'
"""
    + _CATCH
)

_TASK = (
    r"""param(
    [Parameter(Mandatory = $true)][string]$Name
)
$ErrorActionPreference = 'Stop'
try {
    $split = $Name.LastIndexOf('\')
    $folderPath = '\'
    if ($split -gt 0) { $folderPath = $Name.Substring(0, $split) }
    $taskName = $Name.Substring($split + 1)
    $scheduler = New-Object -ComObject 'Schedule.Service'
    $scheduler.Connect()
    $task = $null
    try { $task = $scheduler.GetFolder($folderPath).GetTask($taskName) } catch { $task = $null }
    if ($null -eq $task) {
        Write-Output 'GARRISON unchanged: the task is absent'
        exit 0
    }
    $scheduler.GetFolder($folderPath).DeleteTask($taskName, 0)
    Write-Output 'GARRISON changed: the task was deleted'
"""
    + _CATCH
)

_SERVICE = (
    r"""param(
    [Parameter(Mandatory = $true)][string]$Name
)
$ErrorActionPreference = 'Stop'
try {
    Add-Type -AssemblyName System.ServiceProcess
    $service = New-Object System.ServiceProcess.ServiceController -ArgumentList $Name
    $start = $service.StartType.ToString()
    if (@('Automatic', 'Manual', 'Disabled') -notcontains $start) {
        throw ('start type ' + $start + ': a driver, not a service')
    }
    if ($start -eq 'Disabled' -and $service.Status.ToString() -eq 'Stopped') {
        Write-Output 'GARRISON unchanged: the service is disabled and stopped'
        exit 0
    }
    Set-Service -InputObject $service -StartupType Disabled
    if ($service.Status.ToString() -ne 'Stopped') {
        $service.Stop()
        $service.WaitForStatus('Stopped', [TimeSpan]::FromSeconds(60))
    }
    Write-Output ('GARRISON changed: the service was disabled (it started ' + $start + ')')
"""
    + _CATCH
)


def _script(name: str, body: str) -> str:
    return (
        f"# {name}: Garrison response script for SentinelOne Remote Script Orchestration.\n"
        "# Upload once to the console's script library (type: action, Windows) and give its id in the\n"
        "# tenant's sentinelone_response settings.\n" + body
    )


LIBRARY: dict[str, str] = {
    REGISTRY: _script(REGISTRY, _REGISTRY),
    TASK: _script(TASK, _TASK),
    SERVICE: _script(SERVICE, _SERVICE),
}
