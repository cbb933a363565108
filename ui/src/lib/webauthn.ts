/** The browser's side of a passkey ceremony: the server's options (WebAuthn JSON) in,
 * navigator.credentials out, and the credential back as JSON for the server to check. */

type Json = Record<string, unknown>;

export function passkeysSupported(): boolean {
  const api = window.PublicKeyCredential;
  return typeof api?.parseCreationOptionsFromJSON === "function" && typeof api.parseRequestOptionsFromJSON === "function";
}

function answered(credential: Credential | null): Json {
  if (!(credential instanceof PublicKeyCredential)) throw new Error("No passkey was used.");
  return credential.toJSON() as Json;
}

/** Make a new passkey with the authenticator (the browser asks the user to confirm). */
export async function createPasskey(options: Json): Promise<Json> {
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options as unknown as PublicKeyCredentialCreationOptionsJSON);
  return answered(await navigator.credentials.create({ publicKey }));
}

/** Sign the server's challenge with one of the user's passkeys. */
export async function signWithPasskey(options: Json): Promise<Json> {
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options as unknown as PublicKeyCredentialRequestOptionsJSON);
  return answered(await navigator.credentials.get({ publicKey }));
}
