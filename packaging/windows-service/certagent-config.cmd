@echo off
rem certagent-config: the configuration side of certagent, the same program.
rem `certagent-config interactive|show|set` means `certagent config ...`.
if /i "%~1"=="interactive" goto config
if /i "%~1"=="show" goto config
if /i "%~1"=="set" goto config
"%~dp0certagent.exe" %*
exit /b %errorlevel%
:config
"%~dp0certagent.exe" config %*
exit /b %errorlevel%
