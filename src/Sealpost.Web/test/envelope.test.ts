// The page's envelope code against the worked example of docs/envelope.md, whose values the C# tests check too
// (tests/Sealpost.Crypto.Tests/Vectors/envelope-v1-example.json). Run by `npm test` (scripts/test).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { concat, fromBase64, fromHex, toBase64, toHex, utf8 } from "../src/bytes";
import { deriveSecretKey, EnvelopeError, generateKeyPair, type KeyPair, open, readHeader, seal } from "../src/envelope";
import { fingerprint, safetyNumber } from "../src/fingerprint";
import { decode, encodeReceipt } from "../src/payload";

const example = JSON.parse(readFileSync(new URL("../../../tests/Sealpost.Crypto.Tests/Vectors/envelope-v1-example.json", import.meta.url), "utf8"));

async function keyPair(secretHex: string | Uint8Array): Promise<KeyPair> {
  const secret = typeof secretHex === "string" ? fromHex(secretHex) : secretHex;
  const pkcs8 = concat(fromHex("302e020100300506032b656e04220420"), secret);
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "X25519" }, true, ["deriveBits"]);
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  return { privateKey, publicKey: fromBase64(jwk.x!.replace(/-/g, "+").replace(/_/g, "/") + "=") };
}

test("the worked example's envelope opens to its plaintext", async () => {
  const bob = await keyPair(example.skR);
  assert.equal(toHex(bob.publicKey), example.pkR);
  const envelope = fromBase64(example.envelope_base64);
  assert.deepEqual(readHeader(envelope), { senderKeyId: 1, recipientKeyId: 7 });
  const plaintext = await open({ envelope, recipient: "bob", recipientKeyId: 7, recipientKey: bob, sender: "alice", senderPublicKey: fromHex(example.pkS) });
  assert.equal(toHex(plaintext), example.pt);
  assert.deepEqual(decode(plaintext), { kind: "text", text: "Hi Bob, it's Alice." });
});

test("sealing with the example's fixed ephemeral key gives the example's envelope byte for byte", async () => {
  const ephemeral = await keyPair(await deriveSecretKey(fromHex(example.ikmE)));
  assert.equal(toHex(ephemeral.publicKey), example.enc);
  const envelope = await seal({
    sender: "alice", senderKeyId: 1, senderKey: await keyPair(example.skS),
    recipient: "bob", recipientKeyId: 7, recipientPublicKey: fromHex(example.pkR),
    plaintext: fromHex(example.pt), ephemeral,
  });
  assert.equal(toHex(envelope), example.envelope);
  assert.equal(toBase64(envelope), example.envelope_base64);
});

test("any changed byte, another sender or another recipient key id fails to open", async () => {
  const bob = await keyPair(example.skR);
  const alice = fromHex(example.pkS);
  const envelope = fromBase64(example.envelope_base64);
  for (const i of [0, 4, 8, 12, 44, envelope.length - 1]) {
    const altered = envelope.slice();
    altered[i]! ^= 1;
    await assert.rejects(open({ envelope: altered, recipient: "bob", recipientKeyId: 7, recipientKey: bob, sender: "alice", senderPublicKey: alice }), EnvelopeError);
  }
  const mallory = await generateKeyPair();
  await assert.rejects(open({ envelope, recipient: "bob", recipientKeyId: 7, recipientKey: bob, sender: "alice", senderPublicKey: mallory.publicKey }), EnvelopeError);
  await assert.rejects(open({ envelope, recipient: "bob", recipientKeyId: 8, recipientKey: bob, sender: "alice", senderPublicKey: alice }), EnvelopeError);
});

test("a fresh envelope round-trips with non-extractable keys and is 60 bytes longer than its plaintext", async () => {
  const alice = await generateKeyPair();
  const bob = await generateKeyPair();
  assert.equal(alice.privateKey.extractable, false);
  const plaintext = utf8("Grüße, bob 👋");
  const envelope = await seal({ sender: "alice", senderKeyId: 3, senderKey: alice, recipient: "bob", recipientKeyId: 2, recipientPublicKey: bob.publicKey, plaintext });
  assert.equal(envelope.length, plaintext.length + 60);
  const opened = await open({ envelope, recipient: "bob", recipientKeyId: 2, recipientKey: bob, sender: "alice", senderPublicKey: alice.publicKey });
  assert.deepEqual(opened, plaintext);
});

test("fingerprints and the safety number match the worked example", async () => {
  assert.equal(await fingerprint(fromHex(example.pkS)), example.fingerprint_sender);
  assert.equal(await fingerprint(fromHex(example.pkR)), example.fingerprint_recipient);
  assert.equal(await safetyNumber("alice", fromHex(example.pkS), "bob", fromHex(example.pkR)), example.safety_number);
  assert.equal(await safetyNumber("bob", fromHex(example.pkR), "alice", fromHex(example.pkS)), example.safety_number);
});

test("a file payload (0xFF 0x01) decodes to its name and bytes; unknown kinds are unreadable, not text", () => {
  const file = concat(new Uint8Array([0xff, 0x01, 0x00, 0x05]), utf8("a.txt"), new Uint8Array([1, 2, 3]));
  const decoded = decode(file);
  assert.equal(decoded.kind, "file");
  assert.equal(decoded.kind === "file" && decoded.name, "a.txt");
  assert.deepEqual(decoded.kind === "file" && [...decoded.data], [1, 2, 3]);
  assert.equal(decode(new Uint8Array([0xff, 0x02, 0, 0])).kind, "unreadable");
  assert.equal(decode(new Uint8Array([0xc3, 0x28])).kind, "unreadable");
});

test("a delivery receipt (0xFF 0x02) round-trips; a truncated one is unreadable", () => {
  const receipt = encodeReceipt(["0b0e5f2c-3c1e-4a8e-9a57-2d8b1b0c6f11", "an id"]);
  assert.equal(toHex(receipt.subarray(0, 5)), "ff02000224"); // kind 2, two ids, the first 36 bytes long
  assert.deepEqual(decode(receipt), { kind: "receipt", clientIds: ["0b0e5f2c-3c1e-4a8e-9a57-2d8b1b0c6f11", "an id"] });
  assert.equal(decode(receipt.slice(0, -1)).kind, "unreadable");
});
