/*
 * certagent-service.exe: the Windows service host of the agent.
 *
 * certagent.exe is a Node single executable and cannot answer the Service Control Manager
 * (a start times out), so the MSI registers this small host as the service instead. It
 * reports RUNNING, starts `certagent.exe run` from its own folder (working directory
 * %ProgramData%\certagent) with stdout/stderr appended to %ProgramData%\certagent\logs\
 * service.log, and restarts it 10 s after it exits. On stop it asks the agent to exit with a
 * CTRL_C event on the agent's own hidden console (Node's SIGINT, on which `certagent run`
 * shuts down), waits up to 10 s, and only then ends it with TerminateProcess. The child sits
 * in a job object, so it never outlives the host.
 *
 * CTRL_C rather than CTRL_BREAK: Wine 8 delivers only CTRL_C (GenerateConsoleCtrlEvent with
 * CTRL_BREAK fails there with error 6), and CTRL_C reaches the agent only when it is not
 * started in a new process group, which is why the child gets a console but no group.
 *
 * Under Wine a service process counts as a system process: once no other Wine process is
 * left, wineserver shuts the prefix down, and the next Wine command boots it again and
 * starts every auto-start service. Tests keep one wineserver alive (`wineserver -p`) so
 * `sc stop` followed by `sc query` reads the same boot.
 *
 * Second mode, `certagent-service.exe dpapi protect|unprotect`: the agent's DPAPI helper (a
 * Node single executable cannot call CryptProtectData without a native module). It reads the
 * whole of stdin as raw bytes and writes the result as raw bytes on stdout (Win32 ReadFile/
 * WriteFile on the standard handles, so no CRT text-mode translation touches the bytes).
 * protect: CryptProtectData with CRYPTPROTECT_LOCAL_MACHINE (the service runs as LocalSystem
 * and administrators run certagent-config; both must open conf/secret.key, whose readers the
 * ACL on %ProgramData%\certagent\conf limits) and CRYPTPROTECT_UI_FORBIDDEN. unprotect:
 * CryptUnprotectData. Both use DPAPI_ENTROPY as optional entropy, so a DPAPI blob made by
 * another program cannot be swapped in. Exit codes: 0 ok, 2 usage, 1 failure, with one line
 * on stderr. Secrets come only on stdin, never on the command line.
 *
 * Built by packaging/msi with mingw-w64 (-municode, no PE timestamp, so two builds are the
 * same bytes). Kept instead of WinSW: WinSW needs the .NET runtime, which Wine lacks, so the
 * MSI could not be installed (its StartServices would fail) in the Wine tests.
 */
#include <windows.h>
#include <shlobj.h>
#include <wincrypt.h>
#include <stdio.h>

#define SERVICE_NAME L"certagent"
#define RESTART_DELAY_MS 10000
#define STOP_GRACE_MS 10000
#define STOP_WAIT_MS 15000
/* Fixed entropy of the agent's DPAPI blobs; changing it makes every existing key unreadable. */
#define DPAPI_ENTROPY "certagent conf/secret.key dpapi v1"
/* The largest input accepted on stdin: a 32-byte key, or its blob of a few hundred bytes. */
#define DPAPI_MAX_INPUT 65536

static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status;
static HANDLE stop_event;
static HANDLE log_file = INVALID_HANDLE_VALUE;

static void report(DWORD state, DWORD exit_code, DWORD wait_hint) {
  status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  status.dwCurrentState = state;
  status.dwWin32ExitCode = exit_code;
  status.dwWaitHint = wait_hint;
  status.dwControlsAccepted =
      state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
  status.dwCheckPoint = state == SERVICE_STOP_PENDING ? status.dwCheckPoint + 1 : 0;
  SetServiceStatus(status_handle, &status);
}

/* One line from the host itself in service.log, so an operator sees how each stop went. */
static void log_line(const char *format, DWORD value) {
  if (log_file == INVALID_HANDLE_VALUE) return;
  char line[256];
  int n = snprintf(line, sizeof(line), format, (unsigned long)value);
  if (n <= 0) return;
  DWORD written;
  WriteFile(log_file, line, (DWORD)min(n, (int)sizeof(line) - 1), &written, NULL);
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
  /* The agent finds its base directory through %PROGRAMDATA%, which a service's environment
     may name differently (Wine 8 gives services C:\users\Public): hand it this folder. */
  SetEnvironmentVariableW(L"PROGRAMDATA", dir);
  /* Working directory of the agent: never system32, whatever relative path it might use. */
  _snwprintf(file, MAX_PATH, L"%ls\\certagent", dir);
  SetCurrentDirectoryW(file);
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
  /* A hidden console of its own: the target of CTRL_C on stop (no new group, see the top). */
  DWORD flags = CREATE_NO_WINDOW | CREATE_SUSPENDED;
  if (!CreateProcessW(exe, cmd, NULL, NULL, TRUE, flags, NULL, NULL, &si, pi))
    return FALSE;
  AssignProcessToJobObject(job, pi->hProcess);
  ResumeThread(pi->hThread);
  CloseHandle(pi->hThread);
  /* Which start the agent's own records that follow belong to, and that the host made it
     (no "run" in the line: a test waits for the agent's own output naming it). */
  log_line("certagent-service: started certagent.exe (pid %lu)\r\n", pi->dwProcessId);
  return TRUE;
}

/* The host never acts on console events itself, even while attached to the agent's console. */
static BOOL WINAPI ignore_console_event(DWORD event) {
  (void)event;
  return TRUE;
}

/*
 * Asks the agent to exit: CTRL_C to every process on its console, sent from inside that
 * console. The host, attached for the moment, ignores the event (ignore_console_event).
 */
static BOOL ask_to_exit(DWORD pid) {
  if (!AttachConsole(pid)) {
    log_line("certagent-service: cannot attach to the console of certagent.exe (error %lu)\r\n",
             GetLastError());
    return FALSE;
  }
  BOOL sent = GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0);
  if (!sent) log_line("certagent-service: CTRL_C not delivered (error %lu)\r\n", GetLastError());
  FreeConsole();
  return sent;
}

/* Graceful first, bounded: CTRL_C, up to STOP_GRACE_MS for the agent to exit, then kill. */
static void stop_agent(PROCESS_INFORMATION *pi) {
  if (ask_to_exit(pi->dwProcessId)) {
    log_line("certagent-service: stop requested, asked certagent.exe (pid %lu) to exit\r\n",
             pi->dwProcessId);
    for (DWORD waited = 0; waited < STOP_GRACE_MS; waited += 1000) {
      if (WaitForSingleObject(pi->hProcess, 1000) == WAIT_OBJECT_0) {
        log_line("certagent-service: certagent.exe exited on request (pid %lu)\r\n",
                 pi->dwProcessId);
        return;
      }
      report(SERVICE_STOP_PENDING, NO_ERROR, STOP_WAIT_MS);
    }
  }
  log_line("certagent-service: terminating certagent.exe (pid %lu), it did not exit on request\r\n",
           pi->dwProcessId);
  TerminateProcess(pi->hProcess, 1);
  WaitForSingleObject(pi->hProcess, STOP_WAIT_MS);
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
  log_file = log;
  SetConsoleCtrlHandler(ignore_console_event, TRUE);
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
      stop_agent(&pi);
      CloseHandle(pi.hProcess);
      break;
    }
    CloseHandle(pi.hProcess);
    if (WaitForSingleObject(stop_event, RESTART_DELAY_MS) == WAIT_OBJECT_0) break;
  }

  CloseHandle(job);
  log_file = INVALID_HANDLE_VALUE;
  if (log != INVALID_HANDLE_VALUE) CloseHandle(log);
  report(SERVICE_STOPPED, NO_ERROR, 0);
}

/* Reads all of stdin into buf (at most DPAPI_MAX_INPUT bytes); -1 when unreadable or too big. */
static long read_stdin(BYTE *buf) {
  HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
  DWORD total = 0, got;
  for (;;) {
    if (total == DPAPI_MAX_INPUT) return -1;
    if (!ReadFile(in, buf + total, DPAPI_MAX_INPUT - total, &got, NULL)) {
      /* A pipe whose writer closed reports ERROR_BROKEN_PIPE: that is the end of input. */
      if (GetLastError() == ERROR_BROKEN_PIPE) break;
      return -1;
    }
    if (got == 0) break;
    total += got;
  }
  return (long)total;
}

static BOOL write_stdout(const BYTE *data, DWORD size) {
  HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
  while (size > 0) {
    DWORD written;
    if (!WriteFile(out, data, size, &written, NULL) || written == 0) return FALSE;
    data += written;
    size -= written;
  }
  return TRUE;
}

static int dpapi_fail(const char *what, DWORD error) {
  fprintf(stderr, "certagent-service dpapi: %s (Windows error %lu)\n", what, (unsigned long)error);
  return 1;
}

/* `dpapi protect|unprotect`: stdin bytes in, DPAPI result out (see the top of this file). */
static int dpapi_main(int argc, wchar_t **argv) {
  BOOL protect = argc == 3 && wcscmp(argv[2], L"protect") == 0;
  if (!protect && !(argc == 3 && wcscmp(argv[2], L"unprotect") == 0)) {
    fprintf(stderr, "usage: certagent-service dpapi protect|unprotect"
                    "  (bytes on stdin, result on stdout)\n");
    return 2;
  }

  static BYTE buf[DPAPI_MAX_INPUT];
  long size = read_stdin(buf);
  if (size < 0)
    return dpapi_fail("cannot read the input on stdin (at most 64 KiB)", GetLastError());
  if (size == 0) return dpapi_fail("no input on stdin", ERROR_NO_DATA);

  DATA_BLOB input = {(DWORD)size, buf}, output = {0, NULL};
  DATA_BLOB entropy = {sizeof(DPAPI_ENTROPY) - 1, (BYTE *)DPAPI_ENTROPY};
  BOOL ok = protect ? CryptProtectData(&input, L"certagent", &entropy, NULL, NULL,
                                       CRYPTPROTECT_LOCAL_MACHINE | CRYPTPROTECT_UI_FORBIDDEN,
                                       &output)
                    : CryptUnprotectData(&input, NULL, &entropy, NULL, NULL,
                                         CRYPTPROTECT_UI_FORBIDDEN, &output);
  SecureZeroMemory(buf, sizeof(buf));
  if (!ok) {
    return dpapi_fail(protect ? "CryptProtectData failed"
                              : "CryptUnprotectData failed: not a certagent DPAPI blob of this "
                                "machine, or damaged",
                      GetLastError());
  }

  BOOL written = write_stdout(output.pbData, output.cbData);
  SecureZeroMemory(output.pbData, output.cbData);
  LocalFree(output.pbData);
  return written ? 0 : dpapi_fail("cannot write the result on stdout", GetLastError());
}

int wmain(int argc, wchar_t **argv) {
  if (argc >= 2 && wcscmp(argv[1], L"dpapi") == 0) return dpapi_main(argc, argv);

  /* Any other arguments are ignored, as before: the SCM starts the host without any. */
  SERVICE_TABLE_ENTRYW table[] = {{(LPWSTR)SERVICE_NAME, service_main}, {NULL, NULL}};
  if (StartServiceCtrlDispatcherW(table)) return 0;
  fwprintf(stderr, L"certagent-service: this is the certagent Windows service host; it runs only "
                   L"under the Service Control Manager. Use `sc start certagent` (error %lu).\n",
           GetLastError());
  return 1;
}
