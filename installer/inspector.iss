; Inno Setup 6 script: a Windows installer for the line-side bundle.
;
; NOT built or tested in this project's CI (Linux only); kept beside the
; Linux recipe so both ship the same folder. On a Windows build machine with
; the engineering install (Python 3.11+, pip install -e ".[dev,installer]"):
;     python installer\build_bundle.py          (makes dist\inspector\, no torch)
;     iscc installer\inspector.iss              (makes dist\inspector-setup-0.1.0.exe)
; The executable is a console program (headless runs print to it), so the
; window opens with a console beside it.
; Uninstalling leaves the records (%LOCALAPPDATA%\inspector) in place.

#define AppName "Inspector"
#define AppVersion "0.1.0"
#define AppExe "inspector.exe"

[Setup]
AppId={{7AD3E4A5-3A13-4810-8AEE-BC046E29D355}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=Inspector contributors
AppComments=Industrial defect inspection: live line, reject gate, quality records
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
SourceDir=..
OutputDir=dist
OutputBaseFilename=inspector-setup-{#AppVersion}
SetupIconFile=resources\inspector.ico
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Files]
Source: "dist\inspector\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"

[Run]
Filename: "{app}\{#AppExe}"; Description: "Start {#AppName} on the demo line"; Flags: nowait postinstall skipifsilent
