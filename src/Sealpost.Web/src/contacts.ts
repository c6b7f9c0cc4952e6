// Contacts' pins (docs/web.md, "The trust rules"): a contact's identity key is pinned on first use; a different one later
// (or a first one, for a contact pinned without) is a change that blocks sending until the user accepts exactly the
// identity they were shown. Devices are sealed to, and messages from them trusted, only when their certificate verifies
// under the pinned identity; a device list lacking the pinned identity is an error, never a fallback to envelope v1.
// Contacts without any identity key (accounts from before linked devices) keep device 1's key pinned as before.
import { type DeviceList, type PublicAccount, api, ApiError } from "./api";
import { type Bytes, equalBytes } from "./bytes";
import { verifyCertificate } from "./identity";
import { type Contact, type PinnedKey, store } from "./store";

export function now(): string {
  return new Date().toISOString();
}

/** What the server shows contradicts what is pinned in a way no accept can fix (R3): shown, and nothing is sent. */
export class TrustError extends Error {}

export class KeyChangedError extends Error {
  constructor(readonly username: string) {
    super(`${username}'s key changed. Compare the new safety number with them and accept the new key before sending.`);
  }
}

/** A device to seal to: certified by the pinned identity (or, for a contact without one, device 1's pinned key). */
export interface TrustedDevice {
  deviceId: number;
  keyId: number;
  publicKey: Bytes;
}

/** Whether sending to the contact waits for the user to accept a change. */
export const changed = (c: Contact): boolean => !!c.pending || !!c.pendingIdentity;

const same = (a: Bytes | null | undefined, b: Bytes | null | undefined): boolean => !!a && !!b && equalBytes(a, b);

/**
 * The server's current identity key and device list compared with the pin: pins on first use, records a change as
 * pending; throws TrustError when the list lacks the identity pinned for the contact. Returns the list too, for sealing.
 */
export async function checkContact(username: string): Promise<{ contact: Contact; list: DeviceList }> {
  const [list, record] = await Promise.all([api.devices(username), api.account(username)]);
  if (list.username !== record.username) throw new TrustError("The server answered with two different accounts.");
  const pinned = await store.getContact(record.username);
  if (!pinned) {
    const contact: Contact = {
      username: record.username, displayName: record.displayName, identity: list.identityKey, pendingIdentity: null,
      trusted: pin(record), verified: false, pending: null, lastActivity: now(),
    };
    await store.putContact(contact);
    return { contact, list };
  }
  const before = JSON.stringify(pinned);
  pinned.displayName = record.displayName;
  if (pinned.identity) {
    if (!list.identityKey) {
      throw new TrustError(`The server's list of ${pinned.username}'s devices lacks the identity key you pinned for ${pinned.username}. ` +
        `Nothing was sent: the page never falls back to the old envelope. The server (or something between you and it) may be trying to read your messages.`);
    }
    if (same(pinned.identity, list.identityKey)) pinned.pendingIdentity = null;
    else if (!same(pinned.pendingIdentity, list.identityKey)) pinned.pendingIdentity = list.identityKey;
  } else if (list.identityKey) {
    // A first identity key on a contact pinned without one: someone may have taken the account over (review H2).
    if (!same(pinned.pendingIdentity, list.identityKey)) pinned.pendingIdentity = list.identityKey;
  } else {
    const sameKey = pinned.trusted.keyId === record.keyId && equalBytes(pinned.trusted.publicKey, record.publicKey);
    const pending = sameKey ? null : pin(record);
    if (!pending) pinned.pending = null;
    else if (!pinned.pending || pinned.pending.keyId !== pending.keyId || !equalBytes(pinned.pending.publicKey, pending.publicKey)) pinned.pending = pending;
  }
  if (JSON.stringify(pinned) !== before) await store.putContact(pinned);
  return { contact: pinned, list };
}

const pin = (record: PublicAccount): PinnedKey => ({ keyId: record.keyId, publicKey: record.publicKey });

/** What the user was shown in the warning: exactly that is adopted when they accept it. */
export interface ShownChange {
  identity: Bytes | null;
  key: PinnedKey | null;
}

/**
 * Adopts exactly the identity (or, for a contact without one, the key) the user was shown, not what the server says
 * now; refuses when the pending change is no longer the one shown (the page redraws the warning with the new one).
 */
export async function acceptChange(username: string, shown: ShownChange): Promise<Contact> {
  const contact = await store.getContact(username);
  if (!contact) throw new Error(`${username} is not a contact.`);
  const stale = shown.identity
    ? !same(contact.pendingIdentity, shown.identity)
    : !shown.key || !contact.pending || contact.pending.keyId !== shown.key.keyId || !equalBytes(contact.pending.publicKey, shown.key.publicKey);
  if (stale) throw new Error(`${username}'s key changed again since it was shown to you. Look at the new one before accepting it.`);
  if (shown.identity) {
    contact.identity = shown.identity;
    contact.pendingIdentity = null;
    contact.pending = null;
  } else {
    contact.trusted = shown.key!;
    contact.pending = null;
  }
  contact.verified = false;
  await store.putContact(contact);
  return contact;
}

export async function markVerified(username: string): Promise<void> {
  const contact = await store.getContact(username);
  if (contact && !changed(contact)) await store.putContact({ ...contact, verified: true });
}

/** Every device in `list`, each certified by `identity`; any other is a TrustError, so nothing is sent to anyone. */
export async function certifiedDevices(list: DeviceList, identity: Bytes): Promise<TrustedDevice[]> {
  const name = list.username;
  if (list.devices.length === 0) throw new TrustError(`The server lists no device for ${name}.`);
  for (const d of list.devices) {
    if (!(await verifyCertificate(identity, { username: name, deviceId: d.deviceId, keyId: d.keyId, publicKey: d.publicKey }, d.certificate)))
      throw new TrustError(`${name}'s device ${d.deviceId} is not signed by ${name}'s identity key: not sending to it, so nothing was sent. ` +
        `If ${name} did not just link a device, the server may be trying to read your messages.`);
  }
  return list.devices.map((d) => ({ deviceId: d.deviceId, keyId: d.keyId, publicKey: d.publicKey }));
}

/**
 * The devices a message to `username` is sealed to: every device certified by the pinned identity, or device 1's pinned
 * key for a contact without any identity key (trust on first use, as the SDK does). Throws KeyChangedError while a
 * change waits for the user, and TrustError for what no accept fixes.
 */
export async function recipientsOf(username: string): Promise<{ contact: Contact; devices: TrustedDevice[] }> {
  const { contact, list } = await checkContact(username);
  if (changed(contact)) throw new KeyChangedError(contact.username);
  if (contact.identity) return { contact, devices: await certifiedDevices(list, contact.identity) };
  return { contact, devices: [{ deviceId: 1, keyId: contact.trusted.keyId, publicKey: contact.trusted.publicKey }] };
}

export type SenderKey = { key: PinnedKey; trusted: boolean; reason: string | null } | { key: null; reason: string };

/** The contact as pinned, pinning on first use; a 404 is null. Network failures throw (the message comes again). */
async function contactOf(username: string): Promise<Contact | null> {
  const contact = await store.getContact(username);
  if (contact) return contact;
  try {
    return (await checkContact(username)).contact;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

/**
 * The key of device `deviceId` of `username` under key id `keyId`, for an envelope v2: fetched from the server and
 * trusted only as far as its certificate verifies under the pinned identity (`ownIdentity` for one's own devices). Under
 * an identity the user has not accepted yet, it opens but is shown unverified.
 */
export async function deviceKey(username: string, deviceId: number, keyId: number, ownIdentity: Bytes | null): Promise<SenderKey> {
  let identities: { identity: Bytes; trusted: boolean }[];
  if (ownIdentity) identities = [{ identity: ownIdentity, trusted: true }];
  else {
    let contact = await contactOf(username);
    if (!contact) return { key: null, reason: `No account named ${username} exists.` };
    if (!contact.identity && !contact.pendingIdentity) {
      try {
        contact = (await checkContact(username)).contact;
      } catch (e) {
        if (!(e instanceof TrustError)) throw e;
      }
    }
    identities = [];
    if (contact.identity) identities.push({ identity: contact.identity, trusted: true });
    if (contact.pendingIdentity) identities.push({ identity: contact.pendingIdentity, trusted: false });
    if (identities.length === 0) return { key: null, reason: `${username} has no identity key, yet the message claims to come from one of ${username}'s devices.` };
  }
  let device;
  try {
    device = await api.deviceKey(username, deviceId, keyId);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.code === "wrong-record")) return { key: null, reason: `${username} has no device ${deviceId} with key id ${keyId}: the sender cannot be verified.` };
    throw e;
  }
  for (const { identity, trusted } of identities) {
    if (await verifyCertificate(identity, { username, deviceId, keyId, publicKey: device.publicKey }, device.certificate))
      return { key: { keyId, publicKey: device.publicKey }, trusted, reason: trusted ? null : `Sealed under ${username}'s new identity key, which you have not accepted yet.` };
  }
  return { key: null, reason: `${username}'s device ${deviceId} (key id ${keyId}) is not signed by ${username}'s identity key: the server may have slipped in a device of its own.` };
}

/**
 * The key to open an envelope v1 from `username` sealed with `keyId`, for a contact without a pinned identity only:
 * the pinned one when the ids match, else the server's word alone (shown as unverified). Null with the reason to refuse.
 */
export async function senderKey(username: string, keyId: number): Promise<SenderKey> {
  const contact = await contactOf(username);
  if (!contact) return { key: null, reason: `No account named ${username} exists.` };
  if (contact.identity)
    return { key: null, reason: `An old envelope (v1) from ${username}, whose identity key you pinned: refused. ${username}'s clients send only envelope v2; a server could replay or downgrade this one.` };
  if (contact.trusted.keyId === keyId) return { key: contact.trusted, trusted: true, reason: null };
  if (contact.pending?.keyId === keyId)
    return { key: contact.pending, trusted: false, reason: `Sealed with ${username}'s new key (key id ${keyId}), which you have not accepted yet.` };
  try {
    const record = await api.accountKey(username, keyId);
    if (keyId > contact.trusted.keyId) {
      contact.pending = pin(record);
      await store.putContact(contact);
      return { key: contact.pending, trusted: false, reason: `Sealed with ${username}'s new key (key id ${keyId}), which you have not accepted yet.` };
    }
    return {
      key: pin(record),
      trusted: false,
      reason: `Sealed with ${username}'s key id ${keyId}, which you never pinned: only the server vouches for it (a server could forge it). Ask ${username} whether they sent it.`,
    };
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return { key: null, reason: `${username} has no key id ${keyId}.` };
    throw e;
  }
}
