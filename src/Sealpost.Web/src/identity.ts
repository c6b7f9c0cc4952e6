// The account's identity key and device certificates (docs/devices.md, "Certificates"; Sealpost.Crypto.IdentityKey and
// DeviceCertificate): an Ed25519 key pair made in the page (WebCrypto, non-extractable), whose signature over a device's
// X25519 key is what contacts check before sealing to that device or trusting a message from it.
import { type Bytes, concat, i2osp, utf8 } from "./bytes";

const subtle = crypto.subtle;

export const IDENTITY_KEY_SIZE = 32;
export const SIGNATURE_SIZE = 64;

/** The identity key: the private half a non-extractable CryptoKey, the public half its 32 raw bytes. */
export interface IdentityKeyPair {
  privateKey: CryptoKey;
  publicKey: Bytes;
}

export async function generateIdentity(extractable = false): Promise<IdentityKeyPair> {
  const pair = (await subtle.generateKey({ name: "Ed25519" }, extractable, ["sign", "verify"])) as CryptoKeyPair;
  return { privateKey: pair.privateKey, publicKey: new Uint8Array(await subtle.exportKey("raw", pair.publicKey)) };
}

/** One device's X25519 key as the directory lists it: whose, which device, which of its keys. */
export interface DeviceKey {
  username: string;
  deviceId: number;
  keyId: number;
  publicKey: Bytes;
}

/** "sealpost/device/v1" || 0x00 || len(username) || username || I2OSP(device id, 4) || I2OSP(key id, 4) || public key. */
export function certificateBytes(d: DeviceKey): Bytes {
  if (!/^[a-z0-9_]{3,32}$/.test(d.username)) throw new Error(`"${d.username}" is not a username.`);
  if (d.publicKey.length !== 32) throw new Error("A device key is 32 bytes.");
  return concat(utf8("sealpost/device/v1"), new Uint8Array([0, d.username.length]), utf8(d.username), i2osp(d.deviceId, 4), i2osp(d.keyId, 4), d.publicKey);
}

export async function signCertificate(identity: IdentityKeyPair, device: DeviceKey): Promise<Bytes> {
  return new Uint8Array(await subtle.sign({ name: "Ed25519" }, identity.privateKey, certificateBytes(device)));
}

/** Whether `certificate` vouches for `device` under the identity key; anything malformed is false, never an exception. */
export async function verifyCertificate(identityPublicKey: Bytes, device: DeviceKey, certificate: Bytes | null): Promise<boolean> {
  if (!certificate || certificate.length !== SIGNATURE_SIZE || identityPublicKey.length !== IDENTITY_KEY_SIZE) return false;
  if (device.deviceId < 1 || device.keyId < 1 || device.deviceId > 0xffffffff || device.keyId > 0xffffffff) return false;
  try {
    const key = await subtle.importKey("raw", identityPublicKey, { name: "Ed25519" }, false, ["verify"]);
    return await subtle.verify({ name: "Ed25519" }, key, certificate, certificateBytes(device));
  } catch {
    return false;
  }
}
