import { describe, expect, it } from "vitest";
import { explainFailure } from "./explain";

describe("explainFailure", () => {
  it("turns a raw DNS error into a cause and a next step", () => {
    expect(explainFailure("stt: deepgram: deepgram: ConnectError: [Errno -2] Name or service not known")).toEqual({
      cause: "The vendor's address could not be found (DNS lookup failed).",
      next: "Check the provider's base URL, and that this server can resolve public names.",
    });
  });

  it("tells a refused key, a timeout, a refused connection and Asterisk apart", () => {
    expect(explainFailure("deepgram: the provider refused the credentials (HTTP 401)")?.cause).toBe("The vendor refused the API key.");
    expect(explainFailure("openai: no answer within the time limit")?.cause).toBe("The vendor did not answer in time.");
    expect(explainFailure("elevenlabs: ConnectError: [Errno 111] Connection refused")?.cause).toBe("The vendor could not be reached.");
    expect(explainFailure("ARI originate failed: 500")?.cause).toBe("Asterisk did not accept the request.");
    expect(explainFailure("caller hung up")).toBeNull();
  });
});
