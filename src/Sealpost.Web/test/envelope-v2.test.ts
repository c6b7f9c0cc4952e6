// The page's envelope v2 and device certificates against Sealpost.Crypto: the worked example of docs/devices.md
// (tests/Sealpost.Crypto.Tests/Vectors/envelope-v2-example.json, checked by EnvelopeV2ExampleTests) byte for byte, and a
// sent copy and a certificate that the C# code made (test/vectors/v2-interop.json, checked by CryptoVectorTests in
// tests/Sealpost.Web.Tests). Run by `npm test` (scripts/test).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { concat, fromBase64, fromHex, toBase64, toHex, utf8 } from "../src/bytes";
import { visible } from "../src/dom";
import { deriveSecretKey, EnvelopeError, generateKeyPair, inner, type KeyPair, MESSAGE, openV2, readHeaderV2, SENT_COPY, sealV2, uuidBytes, versionOf } from "../src/envelope";
import { certificateBytes, generateIdentity, type IdentityKeyPair, signCertificate, verifyCertificate } from "../src/identity";

const example = JSON.parse(readFileSync(new URL("../../../tests/Sealpost.Crypto.Tests/Vectors/envelope-v2-example.json", import.meta.url), "utf8"));
const interop = JSON.parse(readFileSync(new URL("../test/vectors/v2-interop.json", import.meta.url), "utf8"));

async function keyPair(secretHex: string | Uint8Array): Promise<KeyPair> {
  const secret = typeof secretHex === "string" ? fromHex(secretHex) : secretHex;
  const privateKey = await crypto.subtle.importKey("pkcs8", concat(fromHex("302e020100300506032b656e04220420"), secret), { name: "X25519" }, true, ["deriveBits"]);
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  return { privateKey, publicKey: fromBase64(jwk.x!.replace(/-/g, "+").replace(/_/g, "/") + "=") };
}

async function identityFromSeed(seedHex: string): Promise<IdentityKeyPair> {
  const privateKey = await crypto.subtle.importKey("pkcs8", concat(fromHex("302e020100300506032b657004220420"), fromHex(seedHex)), { name: "Ed25519" }, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  return { privateKey, publicKey: fromBase64(jwk.x!.replace(/-/g, "+").replace(/_/g, "/") + "=") };
}

const alice1 = { username: "alice", deviceId: example.sender_device_id, keyId: example.sender_key_id };
const bob2 = { username: "bob", deviceId: example.recipient_device_id, keyId: example.recipient_key_id };

test("the worked example's inner plaintext: content type, the message id in text order, the time in ms, the body", () => {
  const pt = inner({ type: MESSAGE, messageId: example.message_id, sentAt: example.sent_at_ms, originalRecipient: null, body: fromHex(example.body) });
  assert.equal(toHex(pt), example.pt);
  assert.equal(toHex(uuidBytes(example.message_id)), "0193795a8f0070008000000000000001");
});

test("sealing v2 with the example's fixed ephemeral key gives the example's envelope byte for byte", async () => {
  const ephemeral = await keyPair(await deriveSecretKey(fromHex(example.ikmE)));
  assert.equal(toHex(ephemeral.publicKey), example.enc);
  const envelope = await sealV2({
    sender: alice1, senderKey: await keyPair(example.skS), recipient: bob2, recipientPublicKey: fromHex(example.pkR),
    content: { type: MESSAGE, messageId: example.message_id, sentAt: example.sent_at_ms, originalRecipient: null, body: fromHex(example.body) },
    ephemeral,
  });
  assert.equal(toHex(envelope.subarray(0, 20)), example.aad);
  assert.equal(toHex(envelope), example.envelope);
  assert.equal(toBase64(envelope), example.envelope_base64);
});

test("the worked example opens to its content; its header names the devices and keys", async () => {
  const envelope = fromBase64(example.envelope_base64);
  assert.equal(versionOf(envelope), 2);
  assert.deepEqual(readHeaderV2(envelope), { senderDeviceId: 1, senderKeyId: 1, recipientDeviceId: 2, recipientKeyId: 7 });
  const content = await openV2({ envelope, recipient: bob2, recipientKey: await keyPair(example.skR), sender: alice1, senderPublicKey: fromHex(example.pkS) });
  assert.deepEqual({ ...content, body: toHex(content.body) },
    { type: MESSAGE, messageId: example.message_id, sentAt: example.sent_at_ms, originalRecipient: null, body: example.body });
});

test("another recipient device or key, another sender device, another sender key or any changed byte fails to open", async () => {
  const envelope = fromBase64(example.envelope_base64);
  const bob = await keyPair(example.skR);
  const pkS = fromHex(example.pkS);
  const attempt = (over: Partial<Parameters<typeof openV2>[0]>) =>
    assert.rejects(openV2({ envelope, recipient: bob2, recipientKey: bob, sender: alice1, senderPublicKey: pkS, ...over }), EnvelopeError);
  await attempt({ recipient: { ...bob2, deviceId: 3 } });
  await attempt({ recipient: { ...bob2, keyId: 8 } });
  await attempt({ sender: { ...alice1, deviceId: 2 } });
  await attempt({ senderPublicKey: (await generateKeyPair()).publicKey });
  for (const i of [3, 4, 8, 12, 16, 20, 52, envelope.length - 1]) {
    const altered = envelope.slice();
    altered[i]! ^= 1;
    await attempt({ envelope: altered });
  }
});

test("a sent copy sealed by Sealpost.Crypto (random ephemeral key) opens in the page with its original recipient", async () => {
  const envelope = fromHex(interop.envelope);
  const content = await openV2({
    envelope,
    recipient: { username: "alice", deviceId: interop.recipient_device_id, keyId: interop.recipient_key_id }, recipientKey: await keyPair(interop.recipient_private_key),
    sender: { username: "alice", deviceId: interop.device_id, keyId: interop.key_id }, senderPublicKey: fromHex(interop.device_public_key),
  });
  assert.equal(content.type, SENT_COPY);
  assert.equal(content.messageId, interop.message_id);
  assert.equal(content.sentAt, interop.sent_at_ms);
  assert.equal(content.originalRecipient, interop.original_recipient);
  assert.equal(toHex(content.body), interop.body);
});

test("a fresh sent copy round-trips with non-extractable keys; only a sent copy names a recipient", async () => {
  const [me1, me2] = [await generateKeyPair(), await generateKeyPair()];
  const content = { type: SENT_COPY, messageId: crypto.randomUUID(), sentAt: Date.now(), originalRecipient: "carol", body: utf8("Grüße 👋") };
  const envelope = await sealV2({ sender: { username: "dave", deviceId: 1, keyId: 1 }, senderKey: me1, recipient: { username: "dave", deviceId: 2, keyId: 1 }, recipientPublicKey: me2.publicKey, content });
  const opened = await openV2({ envelope, recipient: { username: "dave", deviceId: 2, keyId: 1 }, recipientKey: me2, sender: { username: "dave", deviceId: 1, keyId: 1 }, senderPublicKey: me1.publicKey });
  assert.deepEqual(opened, content);
  assert.throws(() => inner({ ...content, type: MESSAGE }), EnvelopeError);
  assert.throws(() => inner({ ...content, messageId: "not-a-uuid" }), EnvelopeError);
});

test("the page's certificate over a device key is Sealpost.Crypto's byte for byte and verifies; any other device does not", async () => {
  const identity = await identityFromSeed(interop.identity_seed);
  assert.equal(toHex(identity.publicKey), interop.identity_public_key);
  const device = { username: interop.username, deviceId: interop.device_id, keyId: interop.key_id, publicKey: fromHex(interop.device_public_key) };
  assert.equal(toHex(await signCertificate(identity, device)), interop.certificate); // Ed25519 is deterministic
  assert.ok(await verifyCertificate(identity.publicKey, device, fromHex(interop.certificate)));
  for (const other of [{ ...device, deviceId: 2 }, { ...device, keyId: 2 }, { ...device, username: "mallory" }, { ...device, publicKey: fromHex(interop.recipient_public_key) }])
    assert.equal(await verifyCertificate(identity.publicKey, other, fromHex(interop.certificate)), false);
  assert.equal(await verifyCertificate(identity.publicKey, device, null), false);
  assert.equal(await verifyCertificate((await generateIdentity()).publicKey, device, fromHex(interop.certificate)), false);
  assert.equal(toHex(certificateBytes(device).subarray(0, 19)), toHex(utf8("sealpost/device/v1\0")));
});

test("names and file names show control and bidi characters as visible escapes", () => {
  assert.equal(visible("bob\u202Egnp.exe"), "bob⟨U+202E⟩gnp.exe");
  assert.equal(visible("a\nb\u200Fc"), "a⟨U+000A⟩b⟨U+200F⟩c");
  assert.equal(visible("Zoë 👋"), "Zoë 👋");
});
