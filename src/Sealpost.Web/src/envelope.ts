// Envelope v1 (docs/envelope.md): HPKE RFC 9180 auth mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM,
// single shot, with nothing but WebCrypto. The reference implementation is src/Sealpost.Crypto.
import { type Bytes, concat, equalBytes, i2osp, readUint32, utf8 } from "./bytes";

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

export async function seal(p: SealParams): Promise<Bytes> {
  if (p.plaintext.length > MAX_PLAINTEXT_SIZE) throw new EnvelopeError(`A message carries at most ${MAX_PLAINTEXT_SIZE} bytes.`);
  const ephemeral = p.ephemeral ?? (await generateKeyPair());
  const dh = concat(await x25519(ephemeral.privateKey, p.recipientPublicKey), await x25519(p.senderKey.privateKey, p.recipientPublicKey));
  const kemContext = concat(ephemeral.publicKey, p.recipientPublicKey, p.senderKey.publicKey);
  const { key, nonce } = await keySchedule(dh, kemContext, info(p.sender, p.recipient, p.recipientKeyId));
  const header = concat(MAGIC, new Uint8Array([VERSION]), i2osp(p.senderKeyId, 4), i2osp(p.recipientKeyId, 4));
  const ciphertext = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: header, tagLength: 128 }, key, p.plaintext));
  return concat(header, ephemeral.publicKey, ciphertext);
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
  const enc = p.envelope.slice(HEADER_SIZE, HEADER_SIZE + 32);
  try {
    const dh = concat(await x25519(p.recipientKey.privateKey, enc), await x25519(p.recipientKey.privateKey, p.senderPublicKey));
    const kemContext = concat(enc, p.recipientKey.publicKey, p.senderPublicKey);
    const { key, nonce } = await keySchedule(dh, kemContext, info(p.sender, p.recipient, p.recipientKeyId));
    const aad = p.envelope.slice(0, HEADER_SIZE);
    return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, key, p.envelope.slice(HEADER_SIZE + 32)));
  } catch (e) {
    if (e instanceof EnvelopeError) throw e;
    throw new EnvelopeError(`This message does not open as one from ${p.sender}: it was altered, or someone else sealed it.`);
  }
}
