/** API failures as `application/problem+json` (RFC 9457), with the fields at fault. */

export interface FieldError {
  field: string;
  reason: string;
}

export class ApiProblem extends Error {
  readonly status: number;
  readonly title: string;
  readonly fieldErrors: FieldError[];

  constructor(status: number, title: string, detail: string, fieldErrors: FieldError[] = []) {
    super(detail || title);
    this.status = status;
    this.title = title;
    this.fieldErrors = fieldErrors;
  }

  /** Field errors keyed by form path: the API's `a[0].b` becomes `a.0.b`. */
  byFormPath(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.fieldErrors) out[toFormPath(e.field)] = e.reason;
    return out;
  }
}

function toFormPath(field: string): string {
  return field.replace(/\[(\d+)\]/g, ".$1");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

export function problemFrom(response: Response, body: unknown): ApiProblem {
  if (isRecord(body)) {
    const errors = Array.isArray(body.errors)
      ? body.errors.filter(isRecord).map((e) => ({ field: String(e.field), reason: String(e.reason) }))
      : [];
    return new ApiProblem(
      typeof body.status === "number" ? body.status : response.status,
      typeof body.title === "string" ? body.title : response.statusText,
      typeof body.detail === "string" ? body.detail : "",
      errors,
    );
  }
  return new ApiProblem(response.status, response.statusText || "Request failed", "");
}

/** The data of an openapi-fetch result, or an `ApiProblem` thrown for an error response. */
export async function unwrap<T>(
  pending: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await pending;
  if (!response.ok) {
    if (response.status === 429) {
      const retry = response.headers.get("Retry-After");
      const problem = problemFrom(response, error);
      return Promise.reject(
        new ApiProblem(429, problem.title, `${problem.message}${retry ? ` (retry in ${retry} s)` : ""}`),
      );
    }
    throw problemFrom(response, error);
  }
  return data as T;
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiProblem) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
