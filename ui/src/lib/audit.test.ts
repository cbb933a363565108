import { describe, expect, it } from "vitest";
import { auditAction, auditEntityName, auditEntityType, listsFields } from "./audit";

const key = { action: "revoke", entity_type: "api_key", entity_id: "6f1c0a52-7c0e-4a3b-9d3e-1b2c3d4e5f60", before: { name: "billing", prefix: "vk_ab12" }, after: null };

describe("audit entries", () => {
  it("names the entity instead of showing its id", () => {
    expect(auditEntityName(key)).toBe("billing");
    expect(auditEntityName({ ...key, action: "update", entity_type: "user", before: { email: "a@acme.test" }, after: { email: "b@acme.test" } })).toBe("b@acme.test");
    expect(auditEntityName({ ...key, before: null })).toBeNull();
    expect(auditEntityType("api_key")).toBe("API key");
  });

  it("draws a revoke as a revoke, not as a deletion of every field", () => {
    expect(auditAction("revoke")).toEqual({ text: "Revoked", color: "orange" });
    expect(auditAction("delete").color).toBe("red");
    expect(listsFields(key)).toBe(false);
    expect(listsFields({ ...key, action: "update", after: { name: "billing-2" } })).toBe(true);
  });
});
