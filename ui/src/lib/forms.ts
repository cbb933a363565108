/** Showing an API refusal on a form: each named field under its input, the rest as one message. */
import { notifications } from "@mantine/notifications";
import { ApiProblem, errorMessage } from "../api/problem";

interface FormWithErrors {
  setErrors(errors: Record<string, string>): void;
  values: object;
}

/** Puts the problem's field errors on `form`; returns the message to show above the form
 * (the problem's detail when no field of the form was named). */
export function applyProblem(form: FormWithErrors, error: unknown, knownFields?: string[]): string | null {
  if (!(error instanceof ApiProblem) || error.fieldErrors.length === 0) return errorMessage(error);
  const byPath = error.byFormPath();
  const known = knownFields ?? Object.keys(form.values);
  const onForm = Object.entries(byPath).filter(([path]) => known.includes(path.split(".")[0] ?? path));
  form.setErrors(Object.fromEntries(onForm));
  const elsewhere = Object.entries(byPath).filter(([path]) => !known.includes(path.split(".")[0] ?? path));
  if (elsewhere.length > 0) return elsewhere.map(([path, reason]) => `${path}: ${reason}`).join("; ");
  return onForm.length > 0 ? "Please correct the highlighted fields." : error.message;
}

export function notifySaved(message: string): void {
  notifications.show({ color: "green", message });
}

export function notifyFailed(error: unknown): void {
  notifyRefused("Failed", error);
}

/** An action the API refused, titled with what did not happen (the reason says why). */
export function notifyRefused(title: string, error: unknown): void {
  notifications.show({ color: "red", title, message: errorMessage(error) });
}

/** Values of optional text inputs: empty means "not set". */
export function orNull(value: string): string | null {
  const trimmed = value.trim();
  return trimmed === "" ? null : trimmed;
}

/** `form.onSubmit`'s second argument: a refused submit scrolls to and focuses the first field
 * in error, once its message is on screen. */
export function focusFirstError(_errors: unknown, _values: unknown, event?: { currentTarget: unknown }): void {
  // Read now: React releases the event once this handler returns.
  const formElement = event?.currentTarget;
  if (!(formElement instanceof HTMLFormElement)) return;
  window.requestAnimationFrame(() => formElement.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
}
