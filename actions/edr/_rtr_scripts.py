"""The fixed PowerShell scripts the RTR actions run with ``runscript -CloudFile=<name>``, and how a call to
one is written.

Every tenant uploads all four (``SCRIPTS``: registry values, scheduled tasks, services, files) once to its
Falcon RTR script library (Host setup and management → Response scripts and files), each under its
``name``, from ``source`` below; an action whose script is missing fails with "is it uploaded?". Garrison
never sends script text, only ``-CommandLine`` arguments, each single-quoted (``ps_quote``) after the
inputs' strict patterns; data no pattern can vouch for (a task's XML, registry data) travels as base64.
Each script prints exactly one line of JSON, which is all the adapter reads.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from ._rtr_inputs import ps_quote


@dataclass(frozen=True)
class Script:
    name: str  # the CloudFile name in the RTR script library
    params: tuple[str, ...]  # its parameters, in the order ``call`` takes them
    source: str

    def call(self, *args: str) -> str:
        """The ``runscript`` command string that runs this script with ``args``, each single-quoted."""
        if len(args) != len(self.params):
            raise ValueError(f"{self.name} takes {', '.join(self.params)}")
        line = " ".join(f"-{param} {ps_quote(arg)}" for param, arg in zip(self.params, args, strict=True))
        return f'runscript -CloudFile="{self.name}" -CommandLine="{line}"'


def b64(text: str) -> str:
    """Text for a script argument whatever it holds (a task's XML): base64 has no quote to escape."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


TASK = Script(
    "garrison_scheduled_task",
    ("Action", "Path", "XmlBase64"),
    r"""param(
  [Parameter(Mandatory)][ValidateSet('query','delete','restore')][string]$Action,
  [Parameter(Mandatory)][string]$Path,
  [string]$XmlBase64 = ''
)
$ErrorActionPreference = 'Stop'
$cut = $Path.LastIndexOf('\') + 1
$folder = $Path.Substring(0, $cut); $name = $Path.Substring($cut)
$task = Get-ScheduledTask -TaskPath $folder -TaskName $name -ErrorAction SilentlyContinue
if ($Action -eq 'restore') {
  if ($task) { @{ present = $true; changed = $false } | ConvertTo-Json -Compress; exit }
  $xml = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($XmlBase64))
  Register-ScheduledTask -TaskPath $folder -TaskName $name -Xml $xml | Out-Null
  @{ present = $true; changed = $true } | ConvertTo-Json -Compress; exit
}
if (-not $task) { @{ present = $false; changed = $false } | ConvertTo-Json -Compress; exit }
$xml = Export-ScheduledTask -TaskPath $folder -TaskName $name
$enabled = $task.State -ne 'Disabled'
if ($Action -eq 'delete') { Unregister-ScheduledTask -TaskPath $folder -TaskName $name -Confirm:$false }
@{ present = ($Action -ne 'delete'); changed = ($Action -eq 'delete'); enabled = $enabled; xml = $xml } |
  ConvertTo-Json -Compress
""",
)

SERVICE = Script(
    "garrison_service",
    ("Action", "Name", "StartType"),
    r"""param(
  [Parameter(Mandatory)][ValidateSet('query','set')][string]$Action,
  [Parameter(Mandatory)][string]$Name,
  [string]$StartType = ''
)
$ErrorActionPreference = 'Stop'
if ($Action -eq 'set' -and $StartType -notin @('Automatic','Manual','Disabled')) { throw "bad StartType" }
$service = Get-Service -Name $Name -ErrorAction SilentlyContinue | Where-Object { $_.Name -eq $Name }
if (-not $service) { @{ present = $false } | ConvertTo-Json -Compress; exit }
$before = [string]$service.StartType
$changed = $Action -eq 'set' -and $before -ne $StartType -and $before -notin @('Boot','System')
if ($changed) { Set-Service -Name $Name -StartupType $StartType }
@{ present = $true; start_type = $before; changed = $changed } | ConvertTo-Json -Compress
""",
)

# Quarantine: the file is moved (never copied) into a folder only SYSTEM and Administrators can read,
# under a name made of its SHA-256 and a hash of its path, so it cannot be run by double-click nor found
# by its name; a sidecar file keeps the original path for a person restoring by hand.
FILE = Script(
    "garrison_quarantine_file",
    ("Action", "Path", "Sha256"),
    r"""param(
  [Parameter(Mandatory)][ValidateSet('query','quarantine','restore')][string]$Action,
  [Parameter(Mandatory)][string]$Path,
  [string]$Sha256 = ''
)
$ErrorActionPreference = 'Stop'
$vault = Join-Path $env:ProgramData 'Garrison\Quarantine'
if (-not (Test-Path -LiteralPath $vault)) {
  New-Item -ItemType Directory -Path $vault -Force | Out-Null
  icacls $vault /inheritance:r /grant:r 'SYSTEM:(OI)(CI)F' 'Administrators:(OI)(CI)F' | Out-Null
}
$sha = [Security.Cryptography.SHA256]::Create()
$tag = -join ($sha.ComputeHash([Text.Encoding]::UTF8.GetBytes($Path.ToLowerInvariant()))[0..7] |
  ForEach-Object { $_.ToString('x2') })
$held = @(Get-ChildItem -LiteralPath $vault -Filter "*_$tag" -File)
$present = Test-Path -LiteralPath $Path -PathType Leaf
$out = @{ present = $present; quarantined = ($held.Count -gt 0); changed = $false; sha256 = '' }
if ($Action -eq 'quarantine' -and $present) {
  $hash = (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant()
  $entry = Join-Path $vault "$($hash)_$tag"
  Move-Item -LiteralPath $Path -Destination $entry -Force
  Set-Content -LiteralPath "$entry.path" -Value $Path
  $out.present = $false; $out.quarantined = $true; $out.changed = $true; $out.sha256 = $hash
} elseif ($Action -eq 'restore' -and -not $present -and $held.Count -gt 0) {
  $entry = $held[0].FullName
  $hash = (Get-FileHash -LiteralPath $entry -Algorithm SHA256).Hash.ToLowerInvariant()
  if ($Sha256 -and $hash -ne $Sha256.ToLowerInvariant()) { throw "held file has sha256 $hash" }
  Move-Item -LiteralPath $entry -Destination $Path
  Remove-Item -LiteralPath "$entry.path" -ErrorAction SilentlyContinue
  $out.present = $true; $out.quarantined = $false; $out.changed = $true; $out.sha256 = $hash
}
$out | ConvertTo-Json -Compress
""",
)

# Registry values go through .NET, not reg.exe: it reads REG_EXPAND_SZ unexpanded and writes each kind from
# typed data, and the 64-bit view is asked for so that a 32-bit host process is not redirected to
# WOW6432Node. Data is compared as the canonical base64 both sides write, case-sensitively (-ceq).
REGISTRY = Script(
    "garrison_registry_value",
    ("Action", "Key", "Name", "Type", "DataBase64"),
    r"""param(
  [Parameter(Mandatory)][ValidateSet('read','restore')][string]$Action,
  [Parameter(Mandatory)][string]$Key,
  [Parameter(Mandatory)][string]$Name,
  [ValidateSet('','REG_SZ','REG_EXPAND_SZ','REG_MULTI_SZ','REG_DWORD','REG_QWORD','REG_BINARY')]
  [string]$Type = '',
  [string]$DataBase64 = ''
)
$ErrorActionPreference = 'Stop'
$hive = @{ HKLM = 'LocalMachine'; HKU = 'Users' }[$Key.Split('\')[0]]
if (-not $hive) { throw "hive of $Key is not HKLM or HKU" }
$base = [Microsoft.Win32.RegistryKey]::OpenBaseKey($hive, 'Registry64')
$path = $Key.Substring($Key.IndexOf('\') + 1)
$utf8 = New-Object Text.UTF8Encoding $false
$kinds = @{ String = 'REG_SZ'; ExpandString = 'REG_EXPAND_SZ'; MultiString = 'REG_MULTI_SZ'
  DWord = 'REG_DWORD'; QWord = 'REG_QWORD'; Binary = 'REG_BINARY'; None = 'REG_NONE' }
function Read-Value($k) {
  if ($null -eq $k -or $k.GetValueNames() -notcontains $Name) { return @{ present = $false } }
  $kind = [string]$k.GetValueKind($Name)
  $value = $k.GetValue($Name, $null, 'DoNotExpandEnvironmentNames')
  if ($kind -eq 'DWord') { $value = [BitConverter]::ToUInt32([BitConverter]::GetBytes([int32]$value), 0) }
  if ($kind -eq 'QWord') { $value = [BitConverter]::ToUInt64([BitConverter]::GetBytes([int64]$value), 0) }
  if ($value -is [byte[]]) { $bytes = $value }
  elseif ($kind -eq 'MultiString') { $bytes = $utf8.GetBytes([string]::Join("$([char]0)", [string[]]$value)) }
  else { $bytes = $utf8.GetBytes([string]$value) }
  $label = if ($kinds.ContainsKey($kind)) { $kinds[$kind] } else { 'REG_UNKNOWN' }
  @{ present = $true; type = $label; data = [Convert]::ToBase64String($bytes) }
}
if ($Action -eq 'read') { Read-Value ($base.OpenSubKey($path)) | ConvertTo-Json -Compress; exit }
if (-not $Type) { throw 'restore needs -Type' }
$bytes = [Convert]::FromBase64String($DataBase64)
$text = $utf8.GetString($bytes)
switch ($Type) {
  'REG_SZ' { $kind = 'String'; $value = $text }
  'REG_EXPAND_SZ' { $kind = 'ExpandString'; $value = $text }
  'REG_MULTI_SZ' { $kind = 'MultiString'; $value = [string[]]@(if ($text) { $text.Split([char]0) }) }
  'REG_DWORD' { $kind = 'DWord'
    $value = [BitConverter]::ToInt32([BitConverter]::GetBytes([uint32]$text), 0) }
  'REG_QWORD' { $kind = 'QWord'
    $value = [BitConverter]::ToInt64([BitConverter]::GetBytes([uint64]$text), 0) }
  'REG_BINARY' { $kind = 'Binary'; $value = $bytes }
}
$k = $base.CreateSubKey($path)
$now = Read-Value $k
$changed = -not ($now.present -and $now.type -ceq $Type -and $now.data -ceq $DataBase64)
if ($changed) { $k.SetValue($Name, $value, $kind) }
@{ present = $true; changed = $changed } | ConvertTo-Json -Compress
""",
)

SCRIPTS = (REGISTRY, TASK, SERVICE, FILE)
