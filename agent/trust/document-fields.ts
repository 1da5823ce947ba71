import { OperationalError } from '../cli/errors.ts';

/**
 * Field checks for signed JSON documents. A document with a valid signature can still be
 * malformed (a publishing bug); these name the field so the publisher can fix it.
 */
export class DocumentFields {
  constructor(
    private readonly value: Record<string, unknown>,
    private readonly where: string,
  ) {}

  static parse(text: string, source: string): DocumentFields {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw malformed(`${source}: not valid JSON`, err);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw malformed(`${source}: expected a JSON object`);
    }
    return new DocumentFields(value as Record<string, unknown>, source);
  }

  string(name: string, pattern?: RegExp): string {
    const v = this.value[name];
    if (typeof v !== 'string' || (pattern && !pattern.test(v))) {
      throw malformed(`${this.where}: field "${name}" is missing or invalid`);
    }
    return v;
  }

  integer(name: string, min = 0): number {
    const v = this.value[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      throw malformed(`${this.where}: field "${name}" must be an integer >= ${min}`);
    }
    return v;
  }

  constant(name: string, expected: string | number): void {
    if (this.value[name] !== expected) {
      throw malformed(`${this.where}: field "${name}" must be ${JSON.stringify(expected)}`);
    }
  }

  object(name: string): DocumentFields {
    const v = this.value[name];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw malformed(`${this.where}: field "${name}" must be an object`);
    }
    return new DocumentFields(v as Record<string, unknown>, `${this.where}.${name}`);
  }

  array(name: string): DocumentFields[] {
    const v = this.value[name];
    if (!Array.isArray(v)) throw malformed(`${this.where}: field "${name}" must be an array`);
    return v.map((item, i) => {
      if (typeof item !== 'object' || item === null) {
        throw malformed(`${this.where}.${name}[${i}] must be an object`);
      }
      return new DocumentFields(item as Record<string, unknown>, `${this.where}.${name}[${i}]`);
    });
  }

  keys(): string[] {
    return Object.keys(this.value);
  }
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;
export const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
/** A plain relative path: no scheme, no leading slash, no `..` segment. */
export const RELATIVE_FILE = /^(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._-][A-Za-z0-9._\/-]*$/;

function malformed(message: string, cause?: unknown): OperationalError {
  return new OperationalError(
    `${message}; the signed document is malformed, ask the publisher to fix it`,
    'trust.malformed',
    { cause },
  );
}
