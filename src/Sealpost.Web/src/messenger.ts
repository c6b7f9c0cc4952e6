// The socket (docs/protocol.md): resend what has no `accepted` yet after every (re)connect, store each incoming message
// in IndexedDB before acknowledging it, drop duplicates, renew the token on the open socket. Every message goes out as
// envelopes v2 in one `send` frame: one per device of the recipient, and a sent copy per other device of mine.
import { ApiError, api, session } from "./api";
import { type Bytes, equalBytes, fromBase64, toBase64 } from "./bytes";
import { KeyChangedError, TrustError, certifiedDevices, deviceKey, now, recipientsOf, senderKey } from "./contacts";
import { EnvelopeError, MESSAGE, SENT_COPY, type SealedContent, open, openV2, readHeader, readHeaderV2, sealV2, versionOf } from "./envelope";
import { decode, encodeReceipt, encodeText } from "./payload";
import { type Account, type StoredIdentity, type StoredKey, type StoredMessage, store } from "./store";

export { KeyChangedError, TrustError };

interface Frame {
  type: string;
  id?: string;
  message_id?: string;
  from?: string;
  from_device?: number;
  client_id?: string;
  body?: string;
  sent_at?: string;
  code?: string;
  message?: string;
  expires_at?: string;
}

export type ConnectionState = "connecting" | "syncing" | "online" | "offline";

/** Errors after which a resend with the same id may succeed. */
const RETRYABLE = new Set(["mailbox_full", "internal", "rate_limited"]);

/** A sealed sending time further than this from the server's is flagged (docs/web.md). */
export const CLOCK_TOLERANCE_MS = 10 * 60_000;

let sequence = 0;
/** A time that orders what this page stores, also within one millisecond. */
export function stamp(): string {
  return `${now()}#${String(++sequence).padStart(6, "0")}`;
}

export class Messenger {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private stopped = false;
  private renewTimer = 0;
  private retryTimer = 0;
  private incoming: Promise<void> = Promise.resolve();
  private acks: string[] = [];
  /** Client ids of messages stored since the last flush, by sender: each sender gets one receipt for them. */
  private receipts = new Map<string, string[]>();
  /** Reseals after `stale_devices`, by client id: a server that keeps answering it cannot make the page loop. */
  private reseals = new Map<string, number>();
  state: ConnectionState = "offline";

  constructor(
    private readonly account: Account,
    private readonly identity: StoredIdentity,
    /** A conversation changed: a message arrived (`arrived`), or one moved on. */
    private readonly onChange: (peer: string, arrived?: boolean) => void,
    private readonly onState: (state: ConnectionState, detail?: string) => void,
  ) {}

  private get deviceId(): number {
    return this.account.deviceId ?? 1;
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.renewTimer);
    clearTimeout(this.retryTimer);
    this.socket?.close(1000);
    this.socket = null;
  }

  private async myKey(): Promise<StoredKey> {
    const me = await store.getKey(this.account.keyId);
    if (!me) throw new Error("This browser no longer holds your private key.");
    return me;
  }

  /** My other devices, each certified by my identity key (none yet: the page does not link devices). */
  private async myOtherDevices() {
    const list = await api.devices(this.account.username);
    if (!list.identityKey || !equalBytes(list.identityKey, this.identity.publicKey))
      throw new TrustError("The server's list of your own devices does not carry your identity key: nothing was sent.");
    return (await certifiedDevices(list, this.identity.publicKey)).filter((d) => d.deviceId !== this.deviceId);
  }

  /**
   * One `send` frame for `plaintext` to `to`: an envelope v2 for every device of theirs (certified by the identity pinned
   * for them) and a sent copy for every other device of mine. Throws KeyChangedError or TrustError, and nothing is sent.
   */
  async seal(to: string, clientId: string, plaintext: Bytes, sentAt: number): Promise<string> {
    const me = await this.myKey();
    const [{ contact, devices }, mine] = await Promise.all([recipientsOf(to), this.myOtherDevices()]);
    const sender = { username: this.account.username, deviceId: this.deviceId, keyId: me.keyId };
    const one = async (username: string, d: { deviceId: number; keyId: number; publicKey: Bytes }, content: SealedContent) => ({
      device: d.deviceId,
      body: toBase64(await sealV2({ sender, senderKey: me, recipient: { username, deviceId: d.deviceId, keyId: d.keyId }, recipientPublicKey: d.publicKey, content })),
    });
    const content = { messageId: clientId, sentAt, body: plaintext };
    const envelopes = await Promise.all(devices.map((d) => one(contact.username, d, { ...content, type: MESSAGE, originalRecipient: null })));
    const copies = await Promise.all(mine.map((d) => one(this.account.username, d, { ...content, type: SENT_COPY, originalRecipient: contact.username })));
    return JSON.stringify({ type: "send", id: clientId, to: contact.username, envelopes, ...(copies.length ? { copies } : {}) });
  }

  /** Seals `text` to every device of the contact, stores it, and sends it when the socket is open. */
  async sendText(to: string, text: string): Promise<StoredMessage> {
    const clientId = crypto.randomUUID();
    const sentAt = Date.now();
    const frame = await this.seal(to, clientId, encodeText(text), sentAt);
    const message: StoredMessage = {
      id: `out:${clientId}`, peer: to, direction: "out", storedAt: stamp(), sentAt: null, text, file: null,
      status: "ok", reason: null, clientId, messageId: null, state: "sending", body: null, frame, sealedAt: new Date(sentAt).toISOString(),
    };
    await store.putMessage(message);
    const contact = await store.getContact(to);
    if (contact) await store.putContact({ ...contact, lastActivity: now() });
    this.transmit(message);
    return message;
  }

  private transmit(m: StoredMessage): void {
    if (this.socket?.readyState !== WebSocket.OPEN) return;
    if (!m.frame) {
      // Sealed as envelope v1 by the page before it spoke v2: never sent now.
      if (m.body) void this.failed(m.clientId, "old_envelope", "Sealed by an older version of this page (envelope v1), which is no longer sent. Send it again.");
      return;
    }
    this.socket.send(m.frame);
    if (m.state === "sending") void store.updateMessage(m.id, (s) => { if (s.state === "sending") s.state = "sent"; }).then(() => this.onChange(m.peer));
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.setState("connecting");
    let token: string;
    try {
      token = await session.accessToken();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return this.setState("offline", "Your session ended: sign in again.");
      return this.retryLater();
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/v1/ws?access_token=${encodeURIComponent(token)}`);
    this.socket = socket;
    socket.onopen = async () => {
      this.attempt = 0;
      this.setState("syncing");
      this.scheduleRenewal();
      // Everything without `accepted`, in the order first sent, with its original id: the server keeps one copy.
      for (const m of await store.unsent()) this.transmit(m);
    };
    socket.onmessage = (event) => {
      let frame: Frame;
      try {
        frame = JSON.parse(String(event.data));
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearTimeout(this.renewTimer);
      if (this.stopped) return;
      if (event.code === 4429) return this.setState("offline", event.reason);
      if (event.code === 4401) void session.accessToken().catch(() => undefined);
      if (event.code === 1001) {
        this.attempt = 0;
        this.retryTimer = window.setTimeout(() => void this.connect(), Math.random() * 500);
        return;
      }
      this.retryLater();
    };
  }

  private retryLater(): void {
    this.setState("offline", "Reconnecting…");
    const delay = Math.min(30_000, 500 * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
    this.retryTimer = window.setTimeout(() => void this.connect(), delay);
  }

  private setState(state: ConnectionState, detail?: string): void {
    this.state = state;
    this.onState(state, detail);
  }

  /** Renews the token a minute before it expires, on the open socket. */
  private scheduleRenewal(): void {
    clearTimeout(this.renewTimer);
    void store.getSession().then((s) => {
      if (!s) return;
      const wait = Math.max(5_000, Date.parse(s.expires_at) - Date.now() - 60_000);
      this.renewTimer = window.setTimeout(async () => {
        try {
          const token = await session.accessToken();
          this.socket?.send(JSON.stringify({ type: "auth", access_token: token }));
        } catch {
          // the socket closes with 4401 at expiry and the reconnect says what is wrong
        }
        this.scheduleRenewal();
      }, wait);
    });
  }

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case "accepted":
        void store.updateMessage(`out:${frame.id}`, (m) => {
          if (m.state !== "delivered") m.state = "accepted";
          m.messageId = frame.message_id ?? null;
          m.sentAt = frame.sent_at ?? null;
          m.body = null;
          m.frame = null;
        }).then((m) => m && this.onChange(m.peer));
        break;
      case "message":
        // One at a time, in the order they came: each is stored before it is acknowledged.
        this.incoming = this.incoming.then(() => this.receive(frame)).catch(() => undefined);
        break;
      case "synced":
        void this.incoming.then(() => this.setState("online"));
        break;
      case "error":
        if (frame.id) void this.failed(frame.id, frame.code ?? "error", frame.message ?? "");
        break;
      case "authenticated":
        this.scheduleRenewal();
        break;
    }
  }

  private async failed(clientId: string, code: string, message: string): Promise<void> {
    if (code === "stale_devices" && (this.reseals.get(clientId) ?? 0) < 3) {
      // The devices changed: the lists are fetched and verified again, and the same message sealed again, same id.
      this.reseals.set(clientId, (this.reseals.get(clientId) ?? 0) + 1);
      const m = await store.getMessage(`out:${clientId}`);
      if (m && m.state !== "accepted" && m.state !== "delivered" && m.text !== null) {
        try {
          const frame = await this.seal(m.peer, clientId, encodeText(m.text), m.sealedAt ? Date.parse(m.sealedAt) : Date.now());
          const updated = await store.updateMessage(m.id, (s) => { s.frame = frame; });
          if (updated) this.transmit(updated);
          return;
        } catch (e) {
          message = e instanceof Error ? e.message : String(e);
        }
      }
    }
    if (RETRYABLE.has(code)) {
      // Sent again, with the same id, after a pause: the reconnect path would too.
      window.setTimeout(() => void store.getMessage(`out:${clientId}`).then((m) => m && m.state !== "accepted" && this.transmit(m)), 3_000);
      return;
    }
    const m = await store.updateMessage(`out:${clientId}`, (s) => {
      s.state = "failed";
      s.reason = message;
      s.body = null;
      s.frame = null;
    });
    if (m) this.onChange(m.peer);
  }

  private async receive(frame: Frame): Promise<void> {
    const from = frame.from ?? "";
    const messageId = frame.message_id ?? "";
    const stored = await this.openAndStore(frame, from, messageId);
    if (stored === "retry") return; // could not tell yet (the server was unreachable): not acknowledged, it comes again
    if (stored !== "duplicate") this.onChange(stored, stored === from);
    this.ack(messageId);
  }

  /**
   * Opens, checks and stores one delivered message; returns the conversation it went to, "duplicate" when it was
   * already stored, or "retry" when it cannot be told yet. What can never open is stored as rejected, so it is acknowledged.
   */
  private async openAndStore(frame: Frame, from: string, messageId: string): Promise<string> {
    const clientId = frame.client_id ?? messageId;
    const base: StoredMessage = {
      id: `in:${from}:${clientId}`, peer: from, direction: "in", storedAt: stamp(), sentAt: frame.sent_at ?? null, text: null, file: null,
      status: "ok", reason: null, clientId, messageId, state: null, body: null, fromDevice: frame.from_device ?? 1, notes: [],
    };
    const reject = async (reason: string) => {
      if (await store.getMessage(base.id)) return "duplicate";
      await store.putMessage({ ...base, status: "rejected", reason });
      return from;
    };
    if (!/^[a-z0-9_]{3,32}$/.test(from)) return reject("The sender's name is not a valid username.");
    let envelope: Bytes;
    try {
      envelope = fromBase64(frame.body ?? "");
    } catch {
      return reject("This is not a Sealpost envelope.");
    }
    try {
      return versionOf(envelope) === 2 ? await this.openV2(envelope, frame, base, reject) : await this.openV1(envelope, frame, base, reject);
    } catch (e) {
      if (e instanceof ApiError || e instanceof TypeError) return "retry";
      throw e;
    }
  }

  private async openV1(envelope: Bytes, frame: Frame, base: StoredMessage, reject: (reason: string) => Promise<string>): Promise<string> {
    const from = base.peer;
    if (await store.getMessage(base.id)) return "duplicate";
    if ((frame.from_device ?? 1) !== 1) return reject(`It claims to come from ${from}'s device ${frame.from_device} but is an envelope v1, which only device 1 sends.`);
    let header;
    try {
      header = readHeader(envelope);
    } catch (e) {
      return reject(e instanceof EnvelopeError ? e.message : "This is not a Sealpost envelope.");
    }
    const mine = await store.getKey(header.recipientKeyId);
    if (!mine) return reject(`It was sealed to your key id ${header.recipientKeyId}, which this browser does not hold.`);
    // Only from a contact without a pinned identity key (senderKey refuses the others): an account from before.
    const sender = await senderKey(from, header.senderKeyId);
    if (!sender.key) return reject(sender.reason);
    let plaintext;
    try {
      plaintext = await open({ envelope, recipient: this.account.username, recipientKeyId: mine.keyId, recipientKey: mine, sender: from, senderPublicKey: sender.key.publicKey });
    } catch (e) {
      return reject(e instanceof EnvelopeError ? e.message : "It does not open.");
    }
    const notes = ["Old envelope (v1): no replay protection, and no sending time sealed inside."];
    return this.keep({ ...base, notes }, plaintext, sender.trusted, sender.reason, reject);
  }

  private async openV2(envelope: Bytes, frame: Frame, base: StoredMessage, reject: (reason: string) => Promise<string>): Promise<string> {
    const from = base.peer;
    const me = this.account.username;
    let header;
    try {
      header = readHeaderV2(envelope);
    } catch (e) {
      return reject(e instanceof EnvelopeError ? e.message : "This is not a Sealpost envelope.");
    }
    const claimed = frame.from_device ?? 1;
    if (header.senderDeviceId !== claimed) return reject(`The server says it came from ${from}'s device ${claimed}; the envelope says device ${header.senderDeviceId}.`);
    if (header.recipientDeviceId !== this.deviceId) return reject(`It was sealed to your device ${header.recipientDeviceId}; this browser is device ${this.deviceId}.`);
    const mine = await store.getKey(header.recipientKeyId);
    if (!mine) return reject(`It was sealed to your key id ${header.recipientKeyId}, which this browser does not hold.`);
    const sender = await deviceKey(from, header.senderDeviceId, header.senderKeyId, from === me ? this.identity.publicKey : null);
    if (!sender.key) return reject(sender.reason);
    let content: SealedContent;
    try {
      content = await openV2({
        envelope,
        recipient: { username: me, deviceId: this.deviceId, keyId: mine.keyId }, recipientKey: mine,
        sender: { username: from, deviceId: header.senderDeviceId, keyId: header.senderKeyId }, senderPublicKey: sender.key.publicKey,
      });
    } catch (e) {
      return reject(e instanceof EnvelopeError ? e.message : "It does not open.");
    }
    const sealedAt = new Date(content.sentAt).toISOString();
    const notes: string[] = [];
    const serverTime = frame.sent_at ? Date.parse(frame.sent_at) : NaN;
    if (Math.abs(serverTime - content.sentAt) > CLOCK_TOLERANCE_MS)
      notes.push(`Sealed at ${sealedAt} by the sender's clock, ${Math.round(Math.abs(serverTime - content.sentAt) / 60_000)} minutes from the server's time: ` +
        "the sender's clock is off, or the message was held back or replayed.");
    // The sealed message id is the message's identity: the server cannot change it, so a replay under new ids is caught.
    let message: StoredMessage = { ...base, id: `in:${from}:${content.messageId}`, clientId: content.messageId, sealedAt, notes, fromDevice: header.senderDeviceId };
    if (content.type === SENT_COPY) {
      if (from !== me || !content.originalRecipient) return reject("A copy of a sent message that is not from another device of yours: refused.");
      message = { ...message, id: `out:${content.messageId}`, direction: "out", peer: content.originalRecipient, state: "accepted" };
    } else if (content.type !== MESSAGE) {
      return reject(`A message this version of the page cannot show (content type ${content.type}).`);
    }
    const first = await store.getMessage(message.id);
    if (first) {
      // The same sealed message again: a redelivery (same server id) is dropped; under another server id it is flagged.
      if (first.messageId !== base.messageId && first.direction === "in") {
        await store.updateMessage(first.id, (m) => { m.repeats = (m.repeats ?? 0) + 1; });
        this.onChange(first.peer);
      }
      return "duplicate";
    }
    return this.keep(message, content.body, sender.trusted, sender.reason, reject);
  }

  /** Stores what an opened message holds (a receipt only moves my messages on); returns its conversation. */
  private async keep(message: StoredMessage, plaintext: Bytes, trusted: boolean, reason: string | null, reject: (reason: string) => Promise<string>): Promise<string> {
    const payload = decode(plaintext);
    if (payload.kind === "unreadable") return reject(payload.reason);
    if (payload.kind === "receipt") {
      // Proven to come from the sender's pinned key; it only ever moves that person's messages to "delivered".
      if (trusted && message.direction === "in") await this.delivered(message.peer, payload.clientIds);
      return "duplicate";
    }
    await store.putMessage({
      ...message,
      text: payload.kind === "text" ? payload.text : null,
      file: payload.kind === "file" ? { name: payload.name, data: payload.data } : null,
      status: trusted ? "ok" : "unverified",
      reason,
    });
    const contact = await store.getContact(message.peer);
    if (contact) await store.putContact({ ...contact, lastActivity: now() });
    if (message.direction === "in") this.receipts.set(message.peer, [...(this.receipts.get(message.peer) ?? []), message.clientId]);
    return message.peer;
  }

  private async delivered(peer: string, clientIds: string[]): Promise<void> {
    for (const clientId of clientIds) {
      await store.updateMessage(`out:${clientId}`, (m) => {
        if (m.peer !== peer || m.direction !== "out") return;
        m.state = "delivered";
        m.body = null; // the recipient has it: nothing left to resend
        m.frame = null;
      });
    }
    this.onChange(peer);
  }

  /**
   * Tells each sender, in one sealed receipt (envelopes v2 like a message), which of their messages this browser has
   * stored. Not kept and not resent: a lost receipt only leaves a message shown as accepted. None goes to a contact
   * whose key change waits for the user, or whose devices do not verify.
   */
  private async sendReceipts(): Promise<void> {
    for (const [peer, clientIds] of this.receipts) {
      this.receipts.delete(peer);
      if (this.socket?.readyState !== WebSocket.OPEN) continue;
      try {
        this.socket.send(await this.seal(peer, crypto.randomUUID(), encodeReceipt(clientIds), Date.now()));
      } catch {
        // a receipt is only a courtesy
      }
    }
  }

  /** Acks of the messages stored in one go share a frame (at most 256 ids). */
  private ack(messageId: string): void {
    this.acks.push(messageId);
    if (this.acks.length === 1) {
      queueMicrotask(() => void this.incoming.then(() => this.flushAcks()));
    }
    if (this.acks.length >= 256) this.flushAcks();
  }

  private flushAcks(): void {
    if (this.acks.length === 0) return;
    const ids = this.acks.splice(0, 256);
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: "ack", message_ids: ids }));
    void this.sendReceipts().catch(() => undefined);
  }
}
