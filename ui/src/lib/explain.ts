/** Provider, Asterisk (ARI) and DNS failures in words: a plain cause and what to do next,
 * read from the technical reason the server recorded (kept visible as the detail). */

export interface Explanation {
  cause: string;
  next: string;
}

const RULES: { test: RegExp; explanation: Explanation }[] = [
  {
    test: /Errno -[23]|Name or service not known|nodename nor servname|getaddrinfo|Temporary failure in name resolution|does not resolve/i,
    explanation: {
      cause: "The vendor's address could not be found (DNS lookup failed).",
      next: "Check the provider's base URL, and that this server can resolve public names.",
    },
  },
  {
    test: /refused the credentials|HTTP 40[13]\b|\b40[13]\b.*(unauthori[sz]ed|forbidden)|invalid api key|unauthori[sz]ed/i,
    explanation: {
      cause: "The vendor refused the API key.",
      next: "Paste a current key from the vendor's console into the provider and test it again.",
    },
  },
  {
    test: /no answer within the time limit|timed? ?out|TimeoutError|ReadTimeout/i,
    explanation: {
      cause: "The vendor did not answer in time.",
      next: "Try again; if it keeps happening, check the vendor's status page and this server's network.",
    },
  },
  {
    test: /ConnectError|Connection refused|unreachable|ECONNREFUSED|Errno 111|Network is unreachable/i,
    explanation: {
      cause: "The vendor could not be reached.",
      next: "Check the provider's base URL and that this server may make outbound connections to it.",
    },
  },
  {
    test: /\bARI\b|Asterisk/i,
    explanation: {
      cause: "Asterisk did not accept the request.",
      next: "Check on the dashboard's health panel that Asterisk (ARI) is connected, and the trunk's registration on the SIP trunks page.",
    },
  },
];

/** The explanation of `reason`, or null when it is not a failure these rules know. */
export function explainFailure(reason: string): Explanation | null {
  return RULES.find((rule) => rule.test.test(reason))?.explanation ?? null;
}
