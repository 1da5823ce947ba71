/*
 * certagent-service.exe: the Windows service host of the agent.
 *
 * certagent.exe is a Node single executable and cannot answer the Service Control Manager
 * (a start times out), so the MSI registers this small host as the service instead. It
 * reports RUNNING, starts `certagent.exe run` from its own folder with stdout/stderr
 * appended to %ProgramData%\certagent\logs\service.log, restarts it 10 s after it exits,
 * and on stop ends it. The child sits in a job object, so it never outlives the host.
 *
 * Built by packaging/msi with mingw-w64 (-municode, no PE timestamp, so two builds are the
 * same bytes). Kept instead of WinSW: WinSW needs the .NET runtime, which Wine lacks, so the
 * MSI could not be installed (its StartServices would fail) in the Wine tests.
 */
#include <windows.h>
#include <shlobj.h>
#include <stdio.h>

#define SERVICE_NAME L"certagent"
#define RESTART_DELAY_MS 10000
#define STOP_WAIT_MS 15000

static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status;
static HANDLE stop_event;

static void report(DWORD state, DWORD exit_code, DWORD wait_hint) {
  status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  status.dwCurrentState = state;
  status.dwWin32ExitCode = exit_code;
  status.dwWaitHint = wait_hint;
  status.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
  SetServiceStatus(status_handle, &status);
}

static DWORD WINAPI on_control(DWORD control, DWORD type, LPVOID data, LPVOID context) {
  (void)type; (void)data; (void)context;
  if (control == SERVICE_CONTROL_STOP || control == SERVICE_CONTROL_SHUTDOWN) {
    report(SERVICE_STOP_PENDING, NO_ERROR, STOP_WAIT_MS);
    SetEvent(stop_event);
    return NO_ERROR;
  }
  return control == SERVICE_CONTROL_INTERROGATE ? NO_ERROR : ERROR_CALL_NOT_IMPLEMENTED;
}

/* The log file the child writes to, inheritable, opened for appending. */
static HANDLE open_log(void) {
  wchar_t dir[MAX_PATH], file[MAX_PATH];
  /* The same folder the MSI's CommonAppDataFolder names, whatever the service's environment. */
  if (SHGetFolderPathW(NULL, CSIDL_COMMON_APPDATA, NULL, SHGFP_TYPE_CURRENT, dir) != S_OK)
    wcscpy(dir, L"C:\\ProgramData");
  _snwprintf(file, MAX_PATH, L"%ls\\certagent", dir);
  CreateDirectoryW(file, NULL);
  _snwprintf(file, MAX_PATH, L"%ls\\certagent\\logs", dir);
  CreateDirectoryW(file, NULL);
  _snwprintf(file, MAX_PATH, L"%ls\\certagent\\logs\\service.log", dir);

  SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, TRUE};
  return CreateFileW(file, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_ALWAYS,
                     FILE_ATTRIBUTE_NORMAL, NULL);
}

/* Starts `certagent.exe run` from the folder this host lives in. */
static BOOL start_agent(HANDLE job, HANDLE log, PROCESS_INFORMATION *pi) {
  wchar_t exe[MAX_PATH], cmd[MAX_PATH + 32];
  DWORD n = GetModuleFileNameW(NULL, exe, MAX_PATH);
  if (n == 0 || n == MAX_PATH) return FALSE;
  wchar_t *slash = wcsrchr(exe, L'\\');
  if (!slash) return FALSE;
  wcscpy(slash + 1, L"certagent.exe");
  _snwprintf(cmd, MAX_PATH + 32, L"\"%ls\" run", exe);

  STARTUPINFOW si = {0};
  si.cb = sizeof(si);
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = INVALID_HANDLE_VALUE;
  si.hStdOutput = log;
  si.hStdError = log;
  SetEnvironmentVariableW(L"CERTAGENT_SERVICE", L"1");
  if (!CreateProcessW(exe, cmd, NULL, NULL, TRUE, CREATE_NO_WINDOW | CREATE_SUSPENDED, NULL, NULL,
                      &si, pi))
    return FALSE;
  AssignProcessToJobObject(job, pi->hProcess);
  ResumeThread(pi->hThread);
  CloseHandle(pi->hThread);
  return TRUE;
}

static HANDLE kill_on_close_job(void) {
  HANDLE job = CreateJobObjectW(NULL, NULL);
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits = {0};
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, sizeof(limits));
  return job;
}

static void WINAPI service_main(DWORD argc, LPWSTR *argv) {
  (void)argc; (void)argv;
  status_handle = RegisterServiceCtrlHandlerExW(SERVICE_NAME, on_control, NULL);
  if (!status_handle) return;
  stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  HANDLE job = kill_on_close_job();
  HANDLE log = open_log();
  report(SERVICE_RUNNING, NO_ERROR, 0);

  for (;;) {
    PROCESS_INFORMATION pi;
    if (!start_agent(job, log, &pi)) {
      /* certagent.exe missing or not startable: wait and retry rather than exit. */
      if (WaitForSingleObject(stop_event, RESTART_DELAY_MS) == WAIT_OBJECT_0) break;
      continue;
    }
    HANDLE waits[2] = {stop_event, pi.hProcess};
    DWORD which = WaitForMultipleObjects(2, waits, FALSE, INFINITE);
    if (which == WAIT_OBJECT_0) {
      /* No graceful stop signal yet: the agent must (and does) tolerate being ended. */
      TerminateProcess(pi.hProcess, 0);
      WaitForSingleObject(pi.hProcess, STOP_WAIT_MS);
      CloseHandle(pi.hProcess);
      break;
    }
    CloseHandle(pi.hProcess);
    if (WaitForSingleObject(stop_event, RESTART_DELAY_MS) == WAIT_OBJECT_0) break;
  }

  CloseHandle(job);
  if (log != INVALID_HANDLE_VALUE) CloseHandle(log);
  report(SERVICE_STOPPED, NO_ERROR, 0);
}

int wmain(void) {
  SERVICE_TABLE_ENTRYW table[] = {{(LPWSTR)SERVICE_NAME, service_main}, {NULL, NULL}};
  if (StartServiceCtrlDispatcherW(table)) return 0;
  fwprintf(stderr, L"certagent-service: this is the certagent Windows service host; it runs only "
                   L"under the Service Control Manager. Use `sc start certagent` (error %lu).\n",
           GetLastError());
  return 1;
}
