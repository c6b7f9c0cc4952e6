// Fingerprints and safety numbers, as in docs/envelope.md ("Fingerprints and safety numbers") and Sealpost.Crypto.Fingerprint.
import { type Bytes, concat, toHex, utf8 } from "./bytes";

/** Lower-case hex of the first 16 bytes of SHA-256(public key), in 8 groups of 4: what the users service shows too. */
export async function fingerprint(publicKey: Bytes): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", publicKey));
  return toHex(hash.subarray(0, 16)).match(/.{4}/g)!.join(" ");
}

async function half(username: string, publicKey: Bytes): Promise<string> {
  const name = utf8(username);
  let h = new Uint8Array(await crypto.subtle.digest("SHA-512", concat(utf8("sealpost/safety-number/v1"), new Uint8Array([0, name.length]), name, publicKey)));
  // The iterations make a search for a key whose half matches someone else's slow.
  for (let i = 0; i < 5200; i++) h = new Uint8Array(await crypto.subtle.digest("SHA-512", concat(h, publicKey)));
  const groups: string[] = [];
  for (let i = 0; i < 6; i++) {
    const b = h.subarray(5 * i, 5 * i + 5);
    // A 40-bit big-endian integer: exact in a double.
    const value = b[0]! * 2 ** 32 + (((b[1]! << 24) | (b[2]! << 16) | (b[3]! << 8) | b[4]!) >>> 0);
    groups.push(String(value % 100000).padStart(5, "0"));
  }
  return groups.join(" ");
}

/** 60 digits in 12 groups of 5, the same on both sides of a conversation. */
export async function safetyNumber(a: string, keyA: Bytes, b: string, keyB: Bytes): Promise<string> {
  const [ha, hb] = await Promise.all([half(a, keyA), half(b, keyB)]);
  return ha < hb ? `${ha} ${hb}` : `${hb} ${ha}`;
}
