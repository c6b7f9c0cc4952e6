// What a sealed plaintext holds (docs/cli.md, "What a message holds"; Sealpost.Client.Messaging.MessagePayload):
// UTF-8 text, or 0xFF then a kind byte; kind 0x01 is a file: FF 01 | name length (uint16 BE, 1..255) | name | bytes;
// kind 0x02 a delivery receipt: FF 02 | count (uint16 BE, 1..1024) | count × (length (1 byte) | client id).
import { type Bytes, concat, fromUtf8, utf8 } from "./bytes";

export const MAX_RECEIPT_IDS = 1024;

export type Payload =
  | { kind: "text"; text: string }
  | { kind: "file"; name: string; data: Bytes }
  | { kind: "receipt"; clientIds: string[] }
  | { kind: "unreadable"; reason: string };

export function encodeText(text: string): Bytes {
  return utf8(text);
}

/** A receipt for at most MAX_RECEIPT_IDS client ids of 1 to 255 bytes (longer ones cannot be named and are left out). */
export function encodeReceipt(clientIds: string[]): Bytes {
  const ids = clientIds.map(utf8).filter((b) => b.length > 0 && b.length < 256).slice(0, MAX_RECEIPT_IDS);
  return concat(new Uint8Array([0xff, 0x02, ids.length >> 8, ids.length & 0xff]), ...ids.flatMap((b) => [new Uint8Array([b.length]), b]));
}

function decodeReceipt(plaintext: Bytes): Payload {
  const malformed: Payload = { kind: "unreadable", reason: "It opened, but its delivery receipt is malformed." };
  const count = (plaintext[2]! << 8) | plaintext[3]!;
  if (count === 0 || count > MAX_RECEIPT_IDS) return malformed;
  const clientIds: string[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    const length = plaintext[at] ?? 0;
    if (length === 0 || at + 1 + length > plaintext.length) return malformed;
    try {
      clientIds.push(fromUtf8(plaintext.subarray(at + 1, at + 1 + length)));
    } catch {
      return malformed;
    }
    at += 1 + length;
  }
  return at === plaintext.length ? { kind: "receipt", clientIds } : malformed;
}

export function decode(plaintext: Bytes): Payload {
  if (plaintext.length === 0 || plaintext[0] !== 0xff) {
    try {
      return { kind: "text", text: fromUtf8(plaintext) };
    } catch {
      return { kind: "unreadable", reason: "It opened, but it is not UTF-8 text." };
    }
  }
  if (plaintext.length >= 4 && plaintext[1] === 0x02) return decodeReceipt(plaintext);
  if (plaintext.length < 4 || plaintext[1] !== 0x01)
    return { kind: "unreadable", reason: `It opened, but holds content of a kind this page does not know (${plaintext[1] ?? 0}).` };
  const nameLength = (plaintext[2]! << 8) | plaintext[3]!;
  if (nameLength === 0 || nameLength > 255 || plaintext.length < 4 + nameLength) return { kind: "unreadable", reason: "It opened, but its file name is malformed." };
  try {
    return { kind: "file", name: fromUtf8(plaintext.subarray(4, 4 + nameLength)), data: plaintext.slice(4 + nameLength) };
  } catch {
    return { kind: "unreadable", reason: "It opened, but its file name is not UTF-8." };
  }
}
