// Pinned keys of contacts (docs/cli.md, "The trust model"): trust on first use, a changed key blocks sending until the
// user accepts it, and a key only the server vouches for never becomes trusted by being seen.
import { type PublicAccount, api, ApiError } from "./api";
import { equalBytes } from "./bytes";
import { type Contact, type PinnedKey, store } from "./store";

export function now(): string {
  return new Date().toISOString();
}

/** The server's current record compared with the pin: pins on first use, records a change as pending. */
export async function checkContact(username: string): Promise<Contact> {
  const record = await api.account(username);
  const pinned = await store.getContact(record.username);
  if (!pinned) {
    const contact: Contact = { username: record.username, displayName: record.displayName, trusted: pin(record), verified: false, pending: null, lastActivity: now() };
    await store.putContact(contact);
    return contact;
  }
  const same = pinned.trusted.keyId === record.keyId && equalBytes(pinned.trusted.publicKey, record.publicKey);
  const pending = same ? null : pin(record);
  if (pending?.keyId !== pinned.pending?.keyId || (pending && pinned.pending && !equalBytes(pending.publicKey, pinned.pending.publicKey)) || pinned.displayName !== record.displayName) {
    pinned.pending = pending;
    pinned.displayName = record.displayName;
    await store.putContact(pinned);
  }
  return pinned;
}

const pin = (record: PublicAccount): PinnedKey => ({ keyId: record.keyId, publicKey: record.publicKey });

/** Accepts exactly the key the user was shown; refuses when the server's key changed again since. */
export async function acceptKey(username: string, shown: PinnedKey): Promise<Contact> {
  const contact = await checkContact(username);
  if (!contact.pending || contact.pending.keyId !== shown.keyId || !equalBytes(contact.pending.publicKey, shown.publicKey))
    throw new Error(`${username}'s key changed again since it was shown to you. Look at the new one before accepting it.`);
  contact.trusted = contact.pending;
  contact.pending = null;
  contact.verified = false;
  await store.putContact(contact);
  return contact;
}

export async function markVerified(username: string): Promise<void> {
  const contact = await store.getContact(username);
  if (contact && !contact.pending) await store.putContact({ ...contact, verified: true });
}

export type SenderKey = { key: PinnedKey; trusted: boolean; reason: string | null } | { key: null; reason: string };

/**
 * The key to open a message from `username` sealed with `keyId`: the pinned one when the ids match, else the server's
 * word alone (shown as unverified). Network failures throw, so the message is not acknowledged and comes again.
 */
export async function senderKey(username: string, keyId: number): Promise<SenderKey> {
  let contact = await store.getContact(username);
  if (!contact) {
    try {
      contact = await checkContact(username);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return { key: null, reason: `No account named ${username} exists.` };
      throw e;
    }
  }
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
