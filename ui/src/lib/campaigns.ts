/** Campaign words the pages share: statuses, lead states, dispositions and which actions a
 * status allows (the API's rules in api/routes/campaigns.py). */
import type { Schemas } from "../api/client";

export type Campaign = Schemas["CampaignOut"];
export type CampaignBody = Schemas["CampaignCreate"];
export type Action = "start" | "pause" | "resume" | "cancel";

export const ACTIONS: Record<string, Action[]> = {
  draft: ["start", "cancel"],
  scheduled: ["pause", "cancel"],
  running: ["pause", "cancel"],
  paused: ["resume", "cancel"],
};
/** Statuses whose settings can be changed (the API's EDITABLE): a running campaign is paused first. */
export const EDITABLE = new Set(["draft", "scheduled", "paused"]);
export const STATUS_COLOR: Record<string, string> = {
  running: "green", scheduled: "blue", paused: "yellow", completed: "gray", cancelled: "red", draft: "gray",
};
export const LEAD_STATES = ["pending", "dialling", "reached", "exhausted", "dnc", "cancelled"] as const;
export const DISPOSITIONS: Schemas["Disposition"][] = [
  "human", "voicemail_left", "voicemail_no_message", "ivr", "call_screening", "no_answer", "busy",
  "failed", "rejected", "transferred", "dnc_requested", "on_dnc_list", "cancelled",
];
/** Dispositions a campaign may retry (the API's RetryRules), in the order the form shows them. */
export const RETRYABLE = [
  "busy", "no_answer", "failed", "voicemail_no_message", "ivr", "call_screening",
] as const;
export type Retryable = (typeof RETRYABLE)[number];

const DISPOSITION_LABEL: Record<string, string> = {
  human: "Answered by a person",
  voicemail_left: "Voicemail, message left",
  voicemail_no_message: "Voicemail, no message",
  ivr: "Automated menu, no person",
  call_screening: "Call screener, no person",
  no_answer: "No answer",
  busy: "Busy",
  failed: "Failed",
  rejected: "Rejected",
  transferred: "Transferred",
  dnc_requested: "Asked not to be called",
  on_dnc_list: "On the do-not-call list",
  cancelled: "Cancelled",
  in_progress: "In progress",
  dnc: "Do not call",
};

export function dispositionLabel(value: string): string {
  const text = DISPOSITION_LABEL[value] ?? value.replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A CSV import's row errors (`csv.line[3].number`) as line, column and reason, in line order;
 * anything else the API named (e.g. `csv`) keeps line 0. */
export interface RowError { line: number; column: string; reason: string }

export function rowErrors(errors: { field: string; reason: string }[]): RowError[] {
  return errors
    .map(({ field, reason }) => {
      const match = /^csv\.line\[(\d+)\](?:\.(\w+))?$/.exec(field);
      return match ? { line: Number(match[1]), column: match[2] ?? "", reason } : { line: 0, column: field, reason };
    })
    .sort((a, b) => a.line - b.line);
}
