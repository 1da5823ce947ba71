/**
 * Windows command-line quoting, as the C runtime (and msiexec) read it. On Windows Node
 * hands the program argv already split by these rules; the bootstrap needs them the other
 * way round, to build msiexec's command line so that values with spaces and quotes arrive
 * intact.
 */

/** Splits a command line the way the Microsoft C runtime does (2008 and later rules). */
export function splitWindowsCommandLine(line: string): string[] {
  const args: string[] = [];
  let current = '';
  let inQuotes = false;
  let started = false;

  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\') {
      let slashes = 0;
      while (line[i] === '\\') {
        slashes++;
        i++;
      }
      // Backslashes are literal unless they precede a quote: then pairs become one.
      if (line[i] === '"') {
        current += '\\'.repeat(Math.floor(slashes / 2));
        if (slashes % 2 === 1) current += '"';
        else i--;
      } else {
        current += '\\'.repeat(slashes);
        i--;
      }
      started = true;
    } else if (c === '"') {
      // Inside quotes, "" is one literal quote and quoting continues.
      if (inQuotes && line[i + 1] === '"') {
        current += '"';
        i++;
      } else {
        inQuotes = !inQuotes;
      }
      started = true;
    } else if ((c === ' ' || c === '\t') && !inQuotes) {
      if (started) args.push(current);
      current = '';
      started = false;
    } else {
      current += c;
      started = true;
    }
  }
  if (started) args.push(current);
  return args;
}

/** `NAME="value"` as msiexec expects a public property: quotes doubled inside. */
export function quoteMsiProperty(name: string, value: string): string {
  return `${name}="${value.replace(/"/g, '""')}"`;
}

/** A path argument, quoted when it holds spaces (Windows paths cannot hold quotes). */
export function quotePath(file: string): string {
  return /[\s"]/.test(file) ? `"${file.replace(/"/g, '')}"` : file;
}
