@echo off
rem Installs the sqlvault agent on this Windows VM. Run from an Administrator prompt in the
rem folder this zip was unpacked to.
setlocal
if not exist "%ProgramFiles%\sqlvault" mkdir "%ProgramFiles%\sqlvault"
copy /Y "%~dp0sqlvault-worker.exe" "%ProgramFiles%\sqlvault\" >nul || exit /b 1
copy /Y "%~dp0sqlvault.exe" "%ProgramFiles%\sqlvault\" >nul || exit /b 1
"%ProgramFiles%\sqlvault\sqlvault-worker.exe" service install || exit /b 1
echo.
echo Next: "%ProgramFiles%\sqlvault\sqlvault-worker.exe" setup --temporal-address HOST:7233 --vault-account-url URL
echo then put the vault key in %ProgramData%\sqlvault\vault.key and run: sqlvault-worker doctor, then sqlvault-worker service start
