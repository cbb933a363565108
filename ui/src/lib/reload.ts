/** Telling the admin how a change reached Asterisk: a stored change Asterisk did not take is
 * said in words, not as a green "created" with the reason in a tooltip. */
import { notifications } from "@mantine/notifications";
import type { Schemas } from "../api/client";

type Reload = Schemas["ReloadStatus"];

const OUTCOME_WORDS: Record<string, string> = {
  rolled_back: "Asterisk refused the new configuration and went back to the previous one",
  failed: "Asterisk could not be reached to apply it",
  invalid: "the configuration was refused before it reached Asterisk",
};

/** The notice after `what` (e.g. "Trunk created"): green when Asterisk applied it (or this
 * server does not provision Asterisk), orange with the cause and a next step when not. */
export function savedNotice(what: string, reload: Reload | null | undefined): { color: string; title?: string; message: string } {
  if (!reload || reload.ok) return { color: "green", message: what };
  const cause = OUTCOME_WORDS[reload.outcome] ?? `Asterisk reported "${reload.outcome}"`;
  const reason = reload.reason ? ` (${reload.reason})` : "";
  return {
    color: "orange",
    title: `${what}, but calls do not use it yet`,
    message: `${cause}${reason}. Fix the cause, then save again.`,
  };
}

// Long enough to read a cause and a next step; the trunk list keeps showing it afterwards.
const WARNING_MS = 12_000;

export function notifySavedWithReload(what: string, reload: Reload | null | undefined): void {
  const warning = reload ? !reload.ok : false;
  notifications.show({ ...savedNotice(what, reload), autoClose: warning ? WARNING_MS : undefined, closeButtonProps: { "aria-label": "Dismiss" } });
}
