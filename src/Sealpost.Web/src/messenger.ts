// The socket (docs/protocol.md): resend what has no `accepted` yet after every (re)connect, store each incoming message
// in IndexedDB before acknowledging it, drop duplicates by (from, client_id), renew the token on the open socket.
import { ApiError, session } from "./api";
import { fromBase64, toBase64 } from "./bytes";
import { checkContact, now, senderKey } from "./contacts";
import { EnvelopeError, open, readHeader, seal } from "./envelope";
import { decode, encodeReceipt, encodeText } from "./payload";
import { type Account, type StoredMessage, store } from "./store";

interface Frame {
  type: string;
  id?: string;
  message_id?: string;
  from?: string;
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
  state: ConnectionState = "offline";

  constructor(
    private readonly account: Account,
    /** A conversation changed: a message arrived (`arrived`), or one moved on. */
    private readonly onChange: (peer: string, arrived?: boolean) => void,
    private readonly onState: (state: ConnectionState, detail?: string) => void,
  ) {}

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

  /** Seals `text` to the contact's pinned key, stores it, and sends it when the socket is open. */
  async sendText(to: string, text: string): Promise<StoredMessage> {
    const contact = await checkContact(to);
    if (contact.pending) throw new KeyChangedError(to);
    const me = await store.getKey(this.account.keyId);
    if (!me) throw new Error("This browser no longer holds your private key.");
    const envelope = await seal({
      sender: this.account.username, senderKeyId: me.keyId, senderKey: me,
      recipient: contact.username, recipientKeyId: contact.trusted.keyId, recipientPublicKey: contact.trusted.publicKey,
      plaintext: encodeText(text),
    });
    const clientId = crypto.randomUUID();
    const message: StoredMessage = {
      id: `out:${clientId}`, peer: contact.username, direction: "out", storedAt: stamp(), sentAt: null, text, file: null,
      status: "ok", reason: null, clientId, messageId: null, state: "sending", body: toBase64(envelope),
    };
    await store.putMessage(message);
    await store.putContact({ ...contact, lastActivity: now() });
    this.transmit(message);
    return message;
  }

  private transmit(m: StoredMessage): void {
    if (this.socket?.readyState !== WebSocket.OPEN || !m.body) return;
    this.socket.send(JSON.stringify({ type: "send", id: m.clientId, to: m.peer, body: m.body }));
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
    if (RETRYABLE.has(code)) {
      // Sent again, with the same id, after a pause: the reconnect path would too.
      window.setTimeout(() => void store.getMessage(`out:${clientId}`).then((m) => m && m.state !== "accepted" && this.transmit(m)), 3_000);
      return;
    }
    const m = await store.updateMessage(`out:${clientId}`, (s) => {
      s.state = "failed";
      s.reason = message;
      s.body = null;
    });
    if (m) this.onChange(m.peer);
  }

  private async receive(frame: Frame): Promise<void> {
    const from = frame.from ?? "";
    const messageId = frame.message_id ?? "";
    const clientId = frame.client_id ?? messageId;
    const id = `in:${from}:${clientId}`;
    if (!(await store.getMessage(id))) {
      const stored = await this.openAndStore(id, from, clientId, messageId, frame.body ?? "", frame.sent_at ?? null);
      if (!stored) return; // could not tell yet (the server was unreachable): not acknowledged, it comes again
      this.onChange(from, true);
    }
    this.ack(messageId);
  }

  private async openAndStore(id: string, from: string, clientId: string, messageId: string, body: string, sentAt: string | null): Promise<boolean> {
    const base: StoredMessage = {
      id, peer: from, direction: "in", storedAt: stamp(), sentAt, text: null, file: null, status: "ok", reason: null,
      clientId, messageId, state: null, body: null,
    };
    const reject = async (reason: string) => {
      await store.putMessage({ ...base, status: "rejected", reason });
      return true;
    };
    let envelope: Uint8Array<ArrayBuffer>;
    let header: { senderKeyId: number; recipientKeyId: number };
    try {
      envelope = fromBase64(body);
      header = readHeader(envelope);
    } catch (e) {
      return reject(e instanceof EnvelopeError ? e.message : "This is not a Sealpost envelope.");
    }
    const mine = await store.getKey(header.recipientKeyId);
    if (!mine) return reject(`It was sealed to your key id ${header.recipientKeyId}, which this browser does not hold.`);
    let sender;
    try {
      sender = await senderKey(from, header.senderKeyId);
    } catch {
      return false;
    }
    if (!sender.key) return reject(sender.reason);
    let plaintext;
    try {
      plaintext = await open({ envelope, recipient: this.account.username, recipientKeyId: mine.keyId, recipientKey: mine, sender: from, senderPublicKey: sender.key.publicKey });
    } catch (e) {
      return reject(e instanceof EnvelopeError ? e.message : "It does not open.");
    }
    const payload = decode(plaintext);
    if (payload.kind === "unreadable") return reject(payload.reason);
    if (payload.kind === "receipt") {
      // Proven to come from the sender's pinned key; it only ever moves that person's messages to "delivered".
      if (sender.trusted) await this.delivered(from, payload.clientIds);
      return true;
    }
    await store.putMessage({
      ...base,
      text: payload.kind === "text" ? payload.text : null,
      file: payload.kind === "file" ? { name: payload.name, data: payload.data } : null,
      status: sender.trusted ? "ok" : "unverified",
      reason: sender.reason,
    });
    const contact = await store.getContact(from);
    if (contact) await store.putContact({ ...contact, lastActivity: now() });
    this.receipts.set(from, [...(this.receipts.get(from) ?? []), clientId]);
    return true;
  }

  private async delivered(peer: string, clientIds: string[]): Promise<void> {
    for (const clientId of clientIds) {
      await store.updateMessage(`out:${clientId}`, (m) => {
        if (m.peer !== peer || m.direction !== "out") return;
        m.state = "delivered";
        m.body = null; // the recipient has it: nothing left to resend
      });
    }
    this.onChange(peer);
  }

  /**
   * Tells each sender, in one sealed receipt, which of their messages this browser has stored. Not kept and not resent:
   * a lost receipt only leaves a message shown as accepted. None goes to a key the user has not accepted.
   */
  private async sendReceipts(): Promise<void> {
    const me = await store.getKey(this.account.keyId);
    for (const [peer, clientIds] of this.receipts) {
      this.receipts.delete(peer);
      const contact = await store.getContact(peer);
      if (!me || !contact || contact.pending || this.socket?.readyState !== WebSocket.OPEN) continue;
      const envelope = await seal({
        sender: this.account.username, senderKeyId: me.keyId, senderKey: me,
        recipient: peer, recipientKeyId: contact.trusted.keyId, recipientPublicKey: contact.trusted.publicKey,
        plaintext: encodeReceipt(clientIds),
      });
      this.socket.send(JSON.stringify({ type: "send", id: crypto.randomUUID(), to: peer, body: toBase64(envelope) }));
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

export class KeyChangedError extends Error {
  constructor(readonly username: string) {
    super(`${username}'s key changed. Compare the new safety number with them and accept the new key before sending.`);
  }
}
