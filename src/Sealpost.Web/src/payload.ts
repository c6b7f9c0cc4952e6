// What a sealed plaintext holds (docs/cli.md, "What a message holds"; Sealpost.Client.Messaging.MessagePayload):
// UTF-8 text, or 0xFF then a kind byte; kind 0x01 is a file: FF 01 | name length (uint16 BE, 1..255) | name | bytes.
import { type Bytes, fromUtf8, utf8 } from "./bytes";

export type Payload =
  | { kind: "text"; text: string }
  | { kind: "file"; name: string; data: Bytes }
  | { kind: "unreadable"; reason: string };

export function encodeText(text: string): Bytes {
  return utf8(text);
}

export function decode(plaintext: Bytes): Payload {
  if (plaintext.length === 0 || plaintext[0] !== 0xff) {
    try {
      return { kind: "text", text: fromUtf8(plaintext) };
    } catch {
      return { kind: "unreadable", reason: "It opened, but it is not UTF-8 text." };
    }
  }
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
