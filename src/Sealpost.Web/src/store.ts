// Everything the page keeps, in one IndexedDB database of this origin (docs/web.md, "What the page stores where").
// Private keys are non-extractable CryptoKey objects: IndexedDB stores them by structured clone, and not even this
// page's own code can read their bytes.
import type { Bytes } from "./bytes";

const DB_NAME = "sealpost";
const DB_VERSION = 1;

/** The account this browser holds: this device's id and current key id; keys are stored by key id, ready for rotation. */
export interface Account {
  username: string;
  keyId: number;
  /** This browser's device id in the account (1 for an account made here; absent in data from before linked devices: 1). */
  deviceId?: number;
  /** The identity key (meta `identity`) is on the server with this device's certificate. */
  identityPublished?: boolean;
}

/** The account's identity key (docs/devices.md): the private half a non-extractable Ed25519 CryptoKey. */
export interface StoredIdentity {
  publicKey: Bytes;
  privateKey: CryptoKey;
}

export interface StoredKey {
  keyId: number;
  publicKey: Bytes;
  privateKey: CryptoKey;
}

export interface Session {
  access_token: string;
  refresh_token: string;
  expires_at: string;
}

export interface PinnedKey {
  keyId: number;
  publicKey: Bytes;
}

export interface Contact {
  username: string;
  displayName: string | null;
  /**
   * The identity key pinned on first use or accepted since (docs/devices.md): every device sealed to or trusted must be
   * certified by it. Null (or absent, in data from before) for an account that had none when it was pinned.
   */
  identity?: Bytes | null;
  /** A different identity key the server now shows (or a first one, for a contact pinned without): a change to accept. */
  pendingIdentity?: Bytes | null;
  /** Device 1's key pinned on first use or accepted since: for a contact without an identity key, sealed to and opened with. */
  trusted: PinnedKey;
  /** The safety number was compared and the user said it matched. */
  verified: boolean;
  /** A different device-1 key the server now shows (contacts without an identity key): sending is blocked until accepted. */
  pending: PinnedKey | null;
  lastActivity: string;
}

/** sending (stored here) → sent (on the socket) → accepted (the server's word) → delivered (the recipient's receipt); or failed. */
export type OutState = "sending" | "sent" | "accepted" | "delivered" | "failed";

export interface StoredMessage {
  /** `in:<from>:<client id>` or `out:<client id>`: a duplicate delivery finds its first copy by this. */
  id: string;
  peer: string;
  direction: "in" | "out";
  /** When this device stored it (orders a conversation); `sentAt` is the server's time. */
  storedAt: string;
  sentAt: string | null;
  text: string | null;
  file: { name: string; data: Bytes } | null;
  /** Incoming: opened with a pinned key (ok), with a key only the server vouched for (unverified), or never opened (rejected). */
  status: "ok" | "unverified" | "rejected";
  reason: string | null;
  clientId: string;
  messageId: string | null;
  /** Outgoing only. */
  state: OutState | null;
  /** Outgoing, until accepted, in data from before envelope v2: a sealed v1 body. The page no longer sends these. */
  body: string | null;
  /** Outgoing, until accepted: the whole sealed `send` frame (JSON), resent as it is with the same id after a reconnect. */
  frame?: string | null;
  /** Envelope v2: the sending device (incoming), and the time sealed inside by the sender's clock (ISO). */
  fromDevice?: number | null;
  sealedAt?: string | null;
  /** Warnings shown with the message: an old envelope v1, a sealed time far from the server's. */
  notes?: string[];
  /** Times the same sealed message id arrived again under another server id (a resend or a replay): shown once, flagged. */
  repeats?: number;
}

let dbPromise: Promise<IDBDatabase> | null = null;

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function db(): Promise<IDBDatabase> {
  dbPromise ??= new Promise((resolve, reject) => {
    const open = indexedDB.open(DB_NAME, DB_VERSION);
    open.onupgradeneeded = () => {
      const d = open.result;
      d.createObjectStore("meta");
      d.createObjectStore("keys", { keyPath: "keyId" });
      d.createObjectStore("contacts", { keyPath: "username" });
      d.createObjectStore("messages", { keyPath: "id" }).createIndex("peer", "peer");
    };
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  return dbPromise;
}

async function tx<T>(stores: string[], mode: IDBTransactionMode, work: (t: IDBTransaction) => Promise<T> | T): Promise<T> {
  const t = (await db()).transaction(stores, mode);
  const done = new Promise<void>((resolve, reject) => {
    t.oncomplete = () => resolve();
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error ?? new Error("The browser's storage refused the write."));
  });
  const result = await work(t);
  await done; // resolves only once the write is durable as far as the browser is concerned
  return result;
}

export const store = {
  getAccount: () => tx(["meta"], "readonly", (t) => request<Account | undefined>(t.objectStore("meta").get("account"))),
  getSession: () => tx(["meta"], "readonly", (t) => request<Session | undefined>(t.objectStore("meta").get("session"))),
  putSession: (s: Session) => tx(["meta"], "readwrite", (t) => void t.objectStore("meta").put(s, "session")),
  deleteSession: () => tx(["meta"], "readwrite", (t) => void t.objectStore("meta").delete("session")),

  /** A new account's key, identity key and name in one transaction: there is never an account without its keys. */
  putAccountWithKey: (account: Account, key: StoredKey, identity: StoredIdentity) =>
    tx(["meta", "keys"], "readwrite", (t) => {
      t.objectStore("keys").put(key);
      t.objectStore("meta").put(identity, "identity");
      t.objectStore("meta").put(account, "account");
    }),
  putAccount: (account: Account) => tx(["meta"], "readwrite", (t) => void t.objectStore("meta").put(account, "account")),
  getIdentity: () => tx(["meta"], "readonly", (t) => request<StoredIdentity | undefined>(t.objectStore("meta").get("identity"))),
  /** An identity key for an account made before the page had them; refuses to replace one. */
  addIdentity: (identity: StoredIdentity) =>
    tx(["meta"], "readwrite", async (t) => {
      const held = await request<StoredIdentity | undefined>(t.objectStore("meta").get("identity"));
      if (held) return held;
      t.objectStore("meta").put(identity, "identity");
      return identity;
    }),
  getKey: (keyId: number) => tx(["keys"], "readonly", (t) => request<StoredKey | undefined>(t.objectStore("keys").get(keyId))),
  /** A new key of this device and the account naming it current, in one transaction (older keys stay, to open what was sealed to them). */
  putAccountAndKey: (account: Account, key: StoredKey) =>
    tx(["meta", "keys"], "readwrite", (t) => {
      t.objectStore("keys").put(key);
      t.objectStore("meta").put(account, "account");
    }),

  getContact: (username: string) => tx(["contacts"], "readonly", (t) => request<Contact | undefined>(t.objectStore("contacts").get(username))),
  putContact: (c: Contact) => tx(["contacts"], "readwrite", (t) => void t.objectStore("contacts").put(c)),
  contacts: () => tx(["contacts"], "readonly", (t) => request<Contact[]>(t.objectStore("contacts").getAll())),

  getMessage: (id: string) => tx(["messages"], "readonly", (t) => request<StoredMessage | undefined>(t.objectStore("messages").get(id))),
  putMessage: (m: StoredMessage) => tx(["messages"], "readwrite", (t) => void t.objectStore("messages").put(m)),
  /** Changes a stored message in one transaction (a state moving on), and returns it; undefined when there is none. */
  updateMessage: (id: string, change: (m: StoredMessage) => void) =>
    tx(["messages"], "readwrite", async (t) => {
      const m = await request<StoredMessage | undefined>(t.objectStore("messages").get(id));
      if (m) {
        change(m);
        t.objectStore("messages").put(m);
      }
      return m;
    }),
  conversation: async (peer: string) => {
    const all = await tx(["messages"], "readonly", (t) => request<StoredMessage[]>(t.objectStore("messages").index("peer").getAll(peer)));
    return all.sort((a, b) => a.storedAt.localeCompare(b.storedAt));
  },
  unsent: async () => {
    const all = await tx(["messages"], "readonly", (t) => request<StoredMessage[]>(t.objectStore("messages").getAll()));
    return all.filter((m) => m.direction === "out" && (m.state === "sending" || m.state === "sent")).sort((a, b) => a.storedAt.localeCompare(b.storedAt));
  },

  /** Forgets everything: the keys, the history, the pins, the session. */
  async erase(): Promise<void> {
    (await db()).close();
    dbPromise = null;
    await new Promise<void>((resolve, reject) => {
      const r = indexedDB.deleteDatabase(DB_NAME);
      r.onsuccess = () => resolve();
      r.onerror = () => reject(r.error);
      r.onblocked = () => resolve();
    });
  },
};
