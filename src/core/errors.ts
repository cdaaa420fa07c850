/**
 * Every failure Flotilla reports is a FlotillaError: a stable `code` that callers and tests match
 * on, plus the file, object and field it concerns, which is also how the CLI prints it.
 */
export interface ErrorLocation {
  /** Path of the file, relative to the repository or render root where known. */
  file?: string;
  /** 1-based line in `file`, where the parser knows it. */
  line?: number;
  /** The object, as `Kind/namespace/name` or `Kind/name`. */
  object?: string;
  /** The field, as a dotted path (`spec.template.spec.containers[0].image`). */
  field?: string;
}

export class FlotillaError extends Error {
  readonly code: string;
  readonly location: ErrorLocation;

  constructor(code: string, message: string, location: ErrorLocation = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.location = location;
  }

  /** The message prefixed with where it happened: `file:line: Kind/name: field: message`. */
  describe(): string {
    const { file, line, object, field } = this.location;
    const where = [file ? (line ? `${file}:${line}` : file) : undefined, object, field].filter(Boolean);
    return where.length > 0 ? `${where.join(": ")}: ${this.message}` : this.message;
  }
}

/** Input that cannot be understood: malformed YAML, a wrong type, an unknown key. */
export class InvalidInputError extends FlotillaError {
  constructor(message: string, location: ErrorLocation = {}, options?: { cause?: unknown }) {
    super("InvalidInput", message, location, options);
  }
}

/** Something the input names does not exist: a file, a resource, a ref, a source. */
export class NotFoundError extends FlotillaError {
  constructor(message: string, location: ErrorLocation = {}, options?: { cause?: unknown }) {
    super("NotFound", message, location, options);
  }
}

/** The input is well-formed but asks for something that is refused (network at render time, a path outside the root). */
export class RefusedError extends FlotillaError {
  constructor(message: string, location: ErrorLocation = {}, options?: { cause?: unknown }) {
    super("Refused", message, location, options);
  }
}

/** Two things claim the same identity (two objects with one id, two clusters with one name). */
export class ConflictError extends FlotillaError {
  constructor(message: string, location: ErrorLocation = {}, options?: { cause?: unknown }) {
    super("Conflict", message, location, options);
  }
}

/** A dependency or reference cycle; `cycle` lists its members in order. */
export class CycleError extends FlotillaError {
  readonly cycle: string[];
  constructor(what: string, cycle: string[], location: ErrorLocation = {}) {
    super("Cycle", `${what} cycle: ${cycle.join(" -> ")}`, location);
    this.cycle = cycle;
  }
}

/** Input over one of Flotilla's size limits (a response, a file, an artifact, a render); the message names the limit's flag. */
export class TooLargeError extends FlotillaError {
  constructor(message: string, location: ErrorLocation = {}, options?: { cause?: unknown }) {
    super("TooLarge", message, location, options);
  }
}

/** An operation took longer than it was allowed to. */
export class TimeoutError extends FlotillaError {
  constructor(message: string, location: ErrorLocation = {}, options?: { cause?: unknown }) {
    super("Timeout", message, location, options);
  }
}

/** A remote (git server, apiserver) failed or refused; `step` says which operation. */
export class RemoteError extends FlotillaError {
  constructor(message: string, location: ErrorLocation = {}, options?: { cause?: unknown }) {
    super("Remote", message, location, options);
  }
}

export function isFlotillaError(error: unknown): error is FlotillaError {
  return error instanceof FlotillaError;
}

/** A one-line description of any thrown value, for logs and the CLI. */
export function describeError(error: unknown): string {
  if (error instanceof FlotillaError) return error.describe();
  if (error instanceof Error) return error.message;
  return String(error);
}
