// Envelopes v1 (docs/envelope.md) and v2 (docs/devices.md, "Envelope v2"): HPKE RFC 9180 auth mode,
// DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM, single shot, with nothing but WebCrypto. The reference
// implementation is src/Sealpost.Crypto (Envelope.cs, EnvelopeV2.cs). The page seals only v2; it opens v1 from contacts
// that have no identity key (accounts from before linked devices).
import { type Bytes, concat, equalBytes, fromHex, i2osp, readUint32, toHex, utf8 } from "./bytes";

const subtle = crypto.subtle;

export const HEADER_SIZE = 12;
export const OVERHEAD = 60;
export const MAX_ENVELOPE_SIZE = 49152;
export const MAX_PLAINTEXT_SIZE = MAX_ENVELOPE_SIZE - OVERHEAD;

const MAGIC = utf8("SPE");
const VERSION = 1;
const MODE_AUTH = 0x02;
const KEM_SUITE = concat(utf8("KEM"), i2osp(0x0020, 2));
const HPKE_SUITE = concat(utf8("HPKE"), i2osp(0x0020, 2), i2osp(0x0001, 2), i2osp(0x0001, 2));
const HPKE_V1 = utf8("HPKE-v1");
const EMPTY = new Uint8Array(0);

/** One failure for every way an envelope can fail to open: it never says which byte was wrong. */
export class EnvelopeError extends Error {}

/** An X25519 key pair: the private half a (normally non-extractable) CryptoKey, the public half its 32 raw bytes. */
export interface KeyPair {
  privateKey: CryptoKey;
  publicKey: Bytes;
}

export async function generateKeyPair(extractable = false): Promise<KeyPair> {
  const pair = (await subtle.generateKey({ name: "X25519" }, extractable, ["deriveBits"])) as CryptoKeyPair;
  return { privateKey: pair.privateKey, publicKey: new Uint8Array(await subtle.exportKey("raw", pair.publicKey)) };
}

async function hmac(key: Bytes, data: Bytes): Promise<Bytes> {
  // WebCrypto refuses an empty HMAC key; HMAC pads keys with zeros, so 32 zero bytes give the same result.
  const k = await subtle.importKey("raw", key.length ? key : new Uint8Array(32), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", k, data));
}

async function labeledExtract(suite: Bytes, salt: Bytes, label: string, ikm: Bytes): Promise<Bytes> {
  return hmac(salt, concat(HPKE_V1, suite, utf8(label), ikm));
}

/** HKDF-Expand for L ≤ 32: one HMAC block (WebCrypto's HKDF always extracts first, so it cannot do a bare Expand). */
async function labeledExpand(suite: Bytes, prk: Bytes, label: string, info: Bytes, length: number): Promise<Bytes> {
  const block = await hmac(prk, concat(i2osp(length, 2), HPKE_V1, suite, utf8(label), info, new Uint8Array([1])));
  return block.slice(0, length);
}

async function x25519(privateKey: CryptoKey, publicKey: Bytes): Promise<Bytes> {
  const peer = await subtle.importKey("raw", publicKey, { name: "X25519" }, true, []);
  const shared = new Uint8Array(await subtle.deriveBits({ name: "X25519", public: peer }, privateKey, 256));
  if (shared.every((b) => b === 0)) throw new EnvelopeError("A key is not usable (a small-order point).");
  return shared;
}

/** RFC 9180 DeriveKeyPair for X25519: the secret bytes behind an ikm (used by the worked example's fixed ephemeral key). */
export async function deriveSecretKey(ikm: Bytes): Promise<Bytes> {
  const prk = await labeledExtract(KEM_SUITE, EMPTY, "dkp_prk", ikm);
  return labeledExpand(KEM_SUITE, prk, "sk", EMPTY, 32);
}

function info(sender: string, recipient: string, recipientKeyId: number): Bytes {
  const s = utf8(sender);
  const r = utf8(recipient);
  return concat(utf8("sealpost/envelope/v1"), new Uint8Array([0, s.length]), s, new Uint8Array([r.length]), r, i2osp(recipientKeyId, 4));
}

/** Usernames are `^[a-z0-9_]{3,32}$` (ASCII), so a one-byte length prefix fits. */
function lengthPrefixed(username: string): Bytes {
  if (!/^[a-z0-9_]{3,32}$/.test(username)) throw new EnvelopeError(`"${username}" is not a username.`);
  return concat(new Uint8Array([username.length]), utf8(username));
}

async function keySchedule(dh: Bytes, kemContext: Bytes, infoBytes: Bytes): Promise<{ key: CryptoKey; nonce: Bytes }> {
  const eaePrk = await labeledExtract(KEM_SUITE, EMPTY, "eae_prk", dh);
  const sharedSecret = await labeledExpand(KEM_SUITE, eaePrk, "shared_secret", kemContext, 32);
  const pskIdHash = await labeledExtract(HPKE_SUITE, EMPTY, "psk_id_hash", EMPTY);
  const infoHash = await labeledExtract(HPKE_SUITE, EMPTY, "info_hash", infoBytes);
  const context = concat(new Uint8Array([MODE_AUTH]), pskIdHash, infoHash);
  const secret = await labeledExtract(HPKE_SUITE, sharedSecret, "secret", EMPTY);
  const keyBytes = await labeledExpand(HPKE_SUITE, secret, "key", context, 16);
  const nonce = await labeledExpand(HPKE_SUITE, secret, "base_nonce", context, 12);
  const key = await subtle.importKey("raw", keyBytes, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
  return { key, nonce };
}

export interface SealParams {
  sender: string;
  senderKeyId: number;
  senderKey: KeyPair;
  recipient: string;
  recipientKeyId: number;
  recipientPublicKey: Bytes;
  plaintext: Bytes;
  /** Only for reproducible examples: real envelopes use a fresh ephemeral key. */
  ephemeral?: KeyPair;
}

/** HPKE auth mode, single shot: header || enc || AES-128-GCM(plaintext) with the header as associated data. */
async function sealHpke(header: Bytes, infoBytes: Bytes, senderKey: KeyPair, recipientPublicKey: Bytes, plaintext: Bytes, ephemeral?: KeyPair): Promise<Bytes> {
  const e = ephemeral ?? (await generateKeyPair());
  const dh = concat(await x25519(e.privateKey, recipientPublicKey), await x25519(senderKey.privateKey, recipientPublicKey));
  const kemContext = concat(e.publicKey, recipientPublicKey, senderKey.publicKey);
  const { key, nonce } = await keySchedule(dh, kemContext, infoBytes);
  const ciphertext = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: header, tagLength: 128 }, key, plaintext));
  return concat(header, e.publicKey, ciphertext);
}

/** The other side of sealHpke; any failure is an EnvelopeError naming the claimed sender, never the byte. */
async function openHpke(envelope: Bytes, headerSize: number, infoBytes: Bytes, recipientKey: KeyPair, senderPublicKey: Bytes, sender: string): Promise<Bytes> {
  const enc = envelope.slice(headerSize, headerSize + 32);
  try {
    const dh = concat(await x25519(recipientKey.privateKey, enc), await x25519(recipientKey.privateKey, senderPublicKey));
    const kemContext = concat(enc, recipientKey.publicKey, senderPublicKey);
    const { key, nonce } = await keySchedule(dh, kemContext, infoBytes);
    const aad = envelope.slice(0, headerSize);
    return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, key, envelope.slice(headerSize + 32)));
  } catch (e) {
    if (e instanceof EnvelopeError) throw e;
    throw new EnvelopeError(`This message does not open as one from ${sender}: it was altered, or someone else sealed it.`);
  }
}

/** Envelope v1. The page no longer sends it; kept for the worked example and the tests. */
export async function seal(p: SealParams): Promise<Bytes> {
  if (p.plaintext.length > MAX_PLAINTEXT_SIZE) throw new EnvelopeError(`A message carries at most ${MAX_PLAINTEXT_SIZE} bytes.`);
  const header = concat(MAGIC, new Uint8Array([VERSION]), i2osp(p.senderKeyId, 4), i2osp(p.recipientKeyId, 4));
  return sealHpke(header, info(p.sender, p.recipient, p.recipientKeyId), p.senderKey, p.recipientPublicKey, p.plaintext, p.ephemeral);
}

export interface Header {
  senderKeyId: number;
  recipientKeyId: number;
}

/** The key ids an envelope names in clear; throws when it is not an envelope v1. */
export function readHeader(envelope: Uint8Array): Header {
  if (envelope.length < OVERHEAD || envelope.length > MAX_ENVELOPE_SIZE) throw new EnvelopeError("This is not a Sealpost envelope (wrong length).");
  if (!equalBytes(envelope.subarray(0, 3), MAGIC)) throw new EnvelopeError("This is not a Sealpost envelope.");
  if (envelope[3] !== VERSION) throw new EnvelopeError(`This envelope has version ${envelope[3]}, which this page does not read.`);
  return { senderKeyId: readUint32(envelope, 4), recipientKeyId: readUint32(envelope, 8) };
}

export interface OpenParams {
  envelope: Bytes;
  recipient: string;
  recipientKeyId: number;
  recipientKey: KeyPair;
  sender: string;
  senderPublicKey: Bytes;
}

/** Opens an envelope; succeeds only if it was sealed to this key by the holder of the sender's private key. */
export async function open(p: OpenParams): Promise<Bytes> {
  const header = readHeader(p.envelope);
  if (header.recipientKeyId !== p.recipientKeyId)
    throw new EnvelopeError(`This envelope was sealed to key id ${header.recipientKeyId}, not ${p.recipientKeyId}.`);
  return openHpke(p.envelope, HEADER_SIZE, info(p.sender, p.recipient, p.recipientKeyId), p.recipientKey, p.senderPublicKey, p.sender);
}

/** The envelope's version byte (1 or 2), or 0 when it does not start with the magic. */
export function versionOf(envelope: Uint8Array): number {
  return envelope.length >= 4 && equalBytes(envelope.subarray(0, 3), MAGIC) ? envelope[3]! : 0;
}

// ------------------------------------------------------------------------------------------------------- envelope v2

export const V2_HEADER_SIZE = 20;
export const V2_OVERHEAD = V2_HEADER_SIZE + 32 + 16;
const V2_INNER_HEADER_SIZE = 1 + 16 + 8;
/** Most body bytes one envelope v2 carries (EnvelopeV2.MaxBodySize: room for a sent copy's recipient name). */
export const V2_MAX_BODY_SIZE = MAX_ENVELOPE_SIZE - V2_OVERHEAD - V2_INNER_HEADER_SIZE - 1 - 32;

/** Content types (docs/devices.md): a message, or a copy of one I sent, for my other devices. Others are reserved. */
export const MESSAGE = 1;
export const SENT_COPY = 2;

export interface DeviceParty {
  username: string;
  deviceId: number;
  keyId: number;
}

/** What an envelope v2 carries inside: the sender's message id (a UUID, its client id) and clock, and the body. */
export interface SealedContent {
  type: number;
  messageId: string;
  /** Milliseconds since 1970, the sender's clock. */
  sentAt: number;
  /** Only for a sent copy: whom the original went to. */
  originalRecipient: string | null;
  body: Bytes;
}

export interface V2Header {
  senderDeviceId: number;
  senderKeyId: number;
  recipientDeviceId: number;
  recipientKeyId: number;
}

export interface SealV2Params {
  sender: DeviceParty;
  senderKey: KeyPair;
  recipient: DeviceParty;
  recipientPublicKey: Bytes;
  content: SealedContent;
  /** Only for reproducible examples: real envelopes use a fresh ephemeral key. */
  ephemeral?: KeyPair;
}

function infoV2(sender: string, senderDevice: number, recipient: string, recipientDevice: number, recipientKeyId: number): Bytes {
  return concat(utf8("sealpost/envelope/v2"), new Uint8Array([0]), lengthPrefixed(sender), i2osp(senderDevice, 4),
    lengthPrefixed(recipient), i2osp(recipientDevice, 4), i2osp(recipientKeyId, 4));
}

/** A UUID as its 16 bytes in text order (Guid.TryWriteBytes(bigEndian: true), as the worked example shows). */
export function uuidBytes(uuid: string): Bytes {
  const hex = uuid.replace(/-/g, "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new EnvelopeError(`"${uuid}" is not a UUID.`);
  return fromHex(hex.toLowerCase());
}

export function uuidText(bytes: Uint8Array): string {
  const hex = toHex(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function u64(ms: number): Bytes {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(ms));
  return out;
}

export function inner(c: SealedContent): Bytes {
  if (!Number.isSafeInteger(c.sentAt) || c.sentAt < 0) throw new EnvelopeError("A message cannot be sent before 1970.");
  if ((c.type === SENT_COPY) !== (c.originalRecipient !== null)) throw new EnvelopeError("A sent copy, and only a sent copy, names its original recipient.");
  if (c.body.length > V2_MAX_BODY_SIZE) throw new EnvelopeError(`A message carries at most ${V2_MAX_BODY_SIZE} bytes.`);
  return concat(new Uint8Array([c.type]), uuidBytes(c.messageId), u64(c.sentAt), c.originalRecipient === null ? new Uint8Array(0) : lengthPrefixed(c.originalRecipient), c.body);
}

function readInner(plaintext: Bytes): SealedContent {
  const type = plaintext[0]!;
  const ms = new DataView(plaintext.buffer, plaintext.byteOffset + 17, 8).getBigUint64(0);
  if (ms > 8_640_000_000_000_000n) throw new EnvelopeError("This message's sending time is out of range.");
  let at = V2_INNER_HEADER_SIZE;
  let originalRecipient: string | null = null;
  if (type === SENT_COPY) {
    const length = plaintext[at] ?? 0;
    if (at + 1 + length > plaintext.length) throw new EnvelopeError("This sent copy is truncated.");
    originalRecipient = String.fromCharCode(...plaintext.subarray(at + 1, at + 1 + length));
    if (!/^[a-z0-9_]{3,32}$/.test(originalRecipient)) throw new EnvelopeError("This sent copy names no valid recipient.");
    at += 1 + length;
  }
  return { type, messageId: uuidText(plaintext.subarray(1, 17)), sentAt: Number(ms), originalRecipient, body: plaintext.slice(at) };
}

export async function sealV2(p: SealV2Params): Promise<Bytes> {
  const header = concat(MAGIC, new Uint8Array([2]), i2osp(p.sender.deviceId, 4), i2osp(p.sender.keyId, 4), i2osp(p.recipient.deviceId, 4), i2osp(p.recipient.keyId, 4));
  const infoBytes = infoV2(p.sender.username, p.sender.deviceId, p.recipient.username, p.recipient.deviceId, p.recipient.keyId);
  return sealHpke(header, infoBytes, p.senderKey, p.recipientPublicKey, inner(p.content), p.ephemeral);
}

/** The clear header of an envelope v2, to pick the keys that open it; authentic only once opened. */
export function readHeaderV2(envelope: Uint8Array): V2Header {
  if (versionOf(envelope) === 0) throw new EnvelopeError("This is not a Sealpost envelope.");
  if (envelope[3] !== 2) throw new EnvelopeError(`This envelope is version ${envelope[3]}, not version 2.`);
  if (envelope.length < V2_OVERHEAD + V2_INNER_HEADER_SIZE) throw new EnvelopeError("This Sealpost envelope is truncated.");
  if (envelope.length > MAX_ENVELOPE_SIZE) throw new EnvelopeError(`This Sealpost envelope is larger than the ${MAX_ENVELOPE_SIZE}-byte limit.`);
  return { senderDeviceId: readUint32(envelope, 4), senderKeyId: readUint32(envelope, 8), recipientDeviceId: readUint32(envelope, 12), recipientKeyId: readUint32(envelope, 16) };
}

export interface OpenV2Params {
  envelope: Bytes;
  /** This device: the header must name it and its key. */
  recipient: DeviceParty;
  recipientKey: KeyPair;
  /** The sending device, whose key's certificate the caller verified under the sender's pinned identity. */
  sender: DeviceParty;
  senderPublicKey: Bytes;
}

/** Opens an envelope v2 sealed to this device's key by the sending device's key (EnvelopeV2.Open). */
export async function openV2(p: OpenV2Params): Promise<SealedContent> {
  const h = readHeaderV2(p.envelope);
  if (h.recipientDeviceId !== p.recipient.deviceId || h.recipientKeyId !== p.recipient.keyId)
    throw new EnvelopeError(`This message was sealed to device ${h.recipientDeviceId}'s key ${h.recipientKeyId}, not to this device's (${p.recipient.deviceId}, key ${p.recipient.keyId}).`);
  if (h.senderDeviceId !== p.sender.deviceId) throw new EnvelopeError(`This message says it comes from device ${h.senderDeviceId}, not device ${p.sender.deviceId}.`);
  const infoBytes = infoV2(p.sender.username, p.sender.deviceId, p.recipient.username, p.recipient.deviceId, p.recipient.keyId);
  return readInner(await openHpke(p.envelope, V2_HEADER_SIZE, infoBytes, p.recipientKey, p.senderPublicKey, `${p.sender.username}'s device ${p.sender.deviceId}`));
}
