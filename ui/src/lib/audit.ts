/** Audit entries as people read them: what happened, to what (by name, not by id). */
import type { Schemas } from "../api/client";
import { label } from "./format";

type Entry = Pick<Schemas["AuditLogOut"], "action" | "entity_type" | "entity_id" | "before" | "after">;

const ACTIONS: Record<string, { text: string; color: string }> = {
  create: { text: "Created", color: "green" },
  update: { text: "Changed", color: "blue" },
  delete: { text: "Deleted", color: "red" },
  // A revoked key still exists (listed as revoked); it is not a deletion.
  revoke: { text: "Revoked", color: "orange" },
  hangup: { text: "Hung up", color: "gray" },
  cancel: { text: "Cancelled", color: "gray" },
  test: { text: "Tested", color: "gray" },
};

const ENTITY_NAMES: Record<string, string> = { api_key: "API key", sip_trunk: "SIP trunk", twilio_account: "Twilio account", twilio_number: "Twilio number" };

export function auditAction(action: string): { text: string; color: string } {
  return ACTIONS[action] ?? { text: label(action), color: "gray" };
}

export function auditEntityType(entityType: string): string {
  return ENTITY_NAMES[entityType] ?? label(entityType);
}

/** The entity's name as stored in the entry (name, e-mail, URL or number); null when it has none. */
export function auditEntityName(entry: Entry): string | null {
  for (const values of [entry.after, entry.before]) {
    for (const key of ["name", "email", "url", "number", "did"]) {
      const value = values?.[key];
      if (typeof value === "string" && value) return value;
    }
  }
  return null;
}

/** Whether the change column lists fields: a delete or revoke is one sentence, not every
 * field struck through. */
export function listsFields(entry: Entry): boolean {
  return !(entry.action === "delete" || entry.action === "revoke") || entry.after !== null;
}
