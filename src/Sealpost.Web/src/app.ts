// The page: a welcome screen (create an account, or sign in where the key lives), then conversations.
import { ApiError, api, session } from "./api";
import { type ShownChange, TrustError, acceptChange, changed as hasChange, checkContact, markVerified } from "./contacts";
import { h, replace, visible } from "./dom";
import { generateKeyPair } from "./envelope";
import { fingerprint, safetyNumber } from "./fingerprint";
import { generateIdentity, signCertificate } from "./identity";
import { type ConnectionState, KeyChangedError, Messenger } from "./messenger";
import { type Account, type Contact, type StoredIdentity, type StoredKey, type StoredMessage, store } from "./store";

const USERNAME = /^[a-z0-9_]{3,32}$/;
const root = document.getElementById("app")!;

export async function start(): Promise<void> {
  const account = await store.getAccount();
  if (account && (await store.getSession()) && account.identityPublished) return showMain(account);
  showWelcome(account, account && !account.identityPublished
    ? "Every account now has an identity key, which certifies this browser's keys. Sign in with your password to make yours (with a new key for this browser): your contacts will be asked to accept it."
    : "");
}

/**
 * Gives an account made before identity keys its identity (R1), at the first sign-in here: a new identity key and a new
 * key for this browser that it certifies as the next key id, published together (PUT /v1/accounts/me/identity, with
 * the password). A key made before the identity is never bound to it (decision 93); contacts see a key change.
 */
async function publishIdentity(account: Account, password: string): Promise<void> {
  const identity = await store.getIdentity() ?? await store.addIdentity(await generateIdentity(false));
  const key = await generateKeyPair(false);
  const keyId = account.keyId + 1;
  const certificate = await signCertificate(identity, { username: account.username, deviceId: account.deviceId ?? 1, keyId, publicKey: key.publicKey });
  try {
    await api.setIdentity(await session.accessToken(), identity.publicKey, key.publicKey, certificate, password);
  } catch (e) {
    if (e instanceof ApiError && e.code === "identity-exists")
      throw new Error("Your account has an identity key that this browser did not make. If you did not link another device, someone who knows your password " +
        "(or the server) set it: change your password from a device you trust and tell your contacts not to accept the new key.");
    throw e;
  }
  const updated: Account = { ...account, keyId, identityPublished: true };
  await store.putAccountAndKey(updated, { keyId, ...key });
  Object.assign(account, updated);
}

function messageOf(e: unknown): string {
  if (e instanceof ApiError && Object.keys(e.errors).length)
    return `${e.message} ${Object.entries(e.errors).map(([field, list]) => `${field.replace(/_/g, " ")}: ${list.join(" ")}`).join(" ")}`;
  return e instanceof Error ? e.message : String(e);
}

function field(id: string, label: string, attrs: Record<string, string | boolean>, hint?: string) {
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name: id, required: true, ...attrs, ...(hint ? { "aria-describedby": `${id}-hint` } : {}) }),
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null);
}

function value(form: HTMLFormElement, name: string): string {
  return (form.elements.namedItem(name) as HTMLInputElement).value;
}

/** Runs a form's work with its button disabled and any failure said in its status line. */
function busy(form: HTMLFormElement, status: HTMLElement, work: () => Promise<void>): void {
  const button = form.querySelector("button[type=submit]") as HTMLButtonElement;
  button.disabled = true;
  status.textContent = "";
  status.classList.remove("error");
  work().catch((e) => {
    status.textContent = messageOf(e);
    status.classList.add("error");
  }).finally(() => {
    button.disabled = false;
  });
}

function showWelcome(account: Account | undefined, notice = ""): void {
  document.title = "Sealpost";
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" }, notice);

  const signIn = h("form", { "aria-labelledby": "signin-title", novalidate: true },
    h("h2", { id: "signin-title" }, account ? `Sign in as ${account.username}` : "Sign in"),
    account
      ? h("input", { type: "hidden", name: "signin-username", value: account.username })
      : field("signin-username", "Username", { autocomplete: "username", autocapitalize: "none", spellcheck: "false" }),
    field("signin-password", "Password", { type: "password", autocomplete: "current-password" }),
    h("button", { type: "submit" }, "Sign in"),
    account ? null : h("p", { class: "hint" }, "Sign in where you created your account: your private keys live only in that browser. " +
      "This page cannot yet be linked as a second device of an account."));
  signIn.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(signIn, status, async () => {
      const username = value(signIn, "signin-username").trim().toLowerCase();
      const held = await store.getAccount();
      if (!held || held.username !== username)
        throw new Error(held
          ? `This browser holds ${held.username}'s key, not ${username}'s.`
          : `This browser does not hold ${username}'s private key, so it could not read their messages. Sign in where the account was created.`);
      const password = value(signIn, "signin-password");
      const tokens = await api.login(username, password);
      await store.putSession(tokens);
      if (!held.identityPublished) await publishIdentity(held, password);
      await showMain(held);
    });
  });

  let register: HTMLFormElement | null = null;
  if (!account) {
    const form = h("form", { "aria-labelledby": "register-title", novalidate: true },
      h("h2", { id: "register-title" }, "Create an account"),
      field("register-username", "Username", { autocomplete: "username", autocapitalize: "none", spellcheck: "false", pattern: "[a-z0-9_]{3,32}" },
        "3 to 32 characters: a–z, 0–9 and _."),
      field("register-display-name", "Display name (optional)", { autocomplete: "nickname", required: false, maxlength: "64" }),
      field("register-password", "Password", { type: "password", autocomplete: "new-password", minlength: "8" }, "At least 8 characters."),
      h("button", { type: "submit" }, "Create account"),
      h("p", { class: "hint" }, "Your identity key and this browser's key are made here; only their public halves are sent. The private halves cannot be exported, even by this page."));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(form, status, async () => {
        const username = value(form, "register-username").trim().toLowerCase();
        if (!USERNAME.test(username)) throw new Error("A username has 3 to 32 characters: a–z, 0–9 and _.");
        const password = value(form, "register-password");
        if ([...password].length < 8) throw new Error("A password has at least 8 characters.");
        status.textContent = "Making your keys…";
        const [key, identity] = await Promise.all([generateKeyPair(false), generateIdentity(false)]);
        const certificate = await signCertificate(identity, { username, deviceId: 1, keyId: 1, publicKey: key.publicKey });
        const record = await api.register(username, password, key.publicKey, value(form, "register-display-name").trim(), identity.publicKey, certificate);
        const account: Account = { username: record.username, keyId: record.keyId, deviceId: 1, identityPublished: true };
        await store.putAccountWithKey(account, { keyId: record.keyId, ...key }, identity);
        await store.putSession(await api.login(username, password));
        await showMain(account);
      });
    });
    register = form;
  }

  const erase = account
    ? h("button", { type: "button", class: "link danger", onclick: () => void eraseBrowser() }, "Erase this browser and start over")
    : null;
  replace(root, h("main", { class: "welcome" },
    h("header", {}, h("h1", {}, logo(), "Sealpost"), h("p", {}, "Private messages, sealed in your browser. The server only ever sees ciphertext.")),
    h("div", { class: "forms" }, register, signIn),
    status,
    erase));
  (root.querySelector("input:not([type=hidden])") as HTMLInputElement | null)?.focus();
}

async function eraseBrowser(): Promise<void> {
  if (!confirm("Erase this browser's Sealpost data? Your private key, your history and your contacts' pinned keys are deleted. " +
    "Messages sealed to this key can then no longer be read anywhere.")) return;
  const s = await store.getSession();
  if (s) await api.logout(s.access_token).catch(() => undefined);
  await store.erase();
  showWelcome(undefined, "This browser's Sealpost data is erased.");
}

function logo(): SVGSVGElement {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "logo");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", "M3 6h18v12H3z M3 6l9 7 9-7");
  svg.append(path);
  return svg;
}

// ---------------------------------------------------------------------------------------------------------------- main

interface MainView {
  account: Account;
  key: StoredKey;
  identity: StoredIdentity;
  /** The open conversation's pending change as drawn: a message under a new key redraws the warning. */
  drawnChange: string;
  messenger: Messenger;
  open: string | null;
  list: HTMLUListElement;
  conversation: HTMLElement;
  shell: HTMLElement;
  connection: HTMLElement;
}

let view: MainView | null = null;

async function showMain(account: Account): Promise<void> {
  const key = await store.getKey(account.keyId);
  const identity = await store.getIdentity();
  if (!key || !identity) return showWelcome(account, "This browser no longer holds your private key.");
  try {
    await session.accessToken();
  } catch (e) {
    return showWelcome(account, e instanceof ApiError && e.status === 401 ? "Your session ended: sign in again." : messageOf(e));
  }
  const connection = h("span", { class: "connection", role: "status", "aria-live": "polite" }, "Connecting…");
  const list = h("ul", { class: "conversations" });
  const conversation = h("main", { class: "conversation", id: "conversation", tabindex: "-1" });
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const start = h("form", { class: "start", novalidate: true },
    h("label", { for: "start-username" }, "Start a conversation with"),
    h("div", { class: "row" },
      h("input", { id: "start-username", name: "start-username", autocomplete: "off", autocapitalize: "none", spellcheck: "false", placeholder: "username", required: true }),
      h("button", { type: "submit" }, "Start")),
    status);
  start.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(start, status, async () => {
      const name = value(start, "start-username").trim().toLowerCase();
      if (!USERNAME.test(name)) throw new Error("A username has 3 to 32 characters: a–z, 0–9 and _.");
      if (name === account.username) throw new Error("That is you.");
      try {
        await checkContact(name);
      } catch (e) {
        if (e instanceof TrustError) {
          problems.set(name, e.message);
          (start.elements.namedItem("start-username") as HTMLInputElement).value = "";
          return openConversation(name);
        }
        if (e instanceof ApiError && e.status === 404) throw new Error(`No account is named ${name}.`);
        throw e;
      }
      (start.elements.namedItem("start-username") as HTMLInputElement).value = "";
      await openConversation(name);
    });
  });
  const myFingerprint = await fingerprint(identity.publicKey);
  const shell = h("div", { class: "shell" },
    h("header", { class: "topbar" },
      h("h1", {}, logo(), "Sealpost"),
      connection,
      h("span", { class: "me" }, "Signed in as ", h("strong", {}, account.username), ` (device ${account.deviceId ?? 1})`),
      h("button", { type: "button", onclick: () => void signOut() }, "Sign out")),
    h("nav", { class: "sidebar", "aria-label": "Conversations" },
      start,
      h("h2", { class: "visually-hidden" }, "Conversations"),
      list,
      h("details", { class: "mykey" },
        h("summary", {}, "Your key"),
        h("p", {}, "Your identity key's fingerprint (what your contacts compare):"),
        h("p", { class: "fingerprint", "data-testid": "my-fingerprint" }, myFingerprint),
        h("p", {}, `This browser is device ${account.deviceId ?? 1}, key id ${key.keyId}, certified by your identity key:`),
        h("p", { class: "fingerprint" }, await fingerprint(key.publicKey)),
        h("p", { class: "hint" }, "Both kept in this browser as keys that cannot be exported."),
        h("button", { type: "button", class: "link danger", onclick: () => void eraseBrowser() }, "Erase this browser"))),
    conversation);
  replace(root, shell);
  view?.messenger.stop();
  unread.clear();
  const messenger = new Messenger(account, identity, (peer, arrived) => void changed(peer, arrived), (state, detail) => showConnection(state, detail));
  view = { account, key, identity, drawnChange: "", messenger, open: null, list, conversation, shell, connection };
  document.title = `Sealpost — ${account.username}`;
  await renderList();
  renderEmpty();
  messenger.start();
}

function showConnection(state: ConnectionState, detail?: string): void {
  if (!view) return;
  const text = { connecting: "Connecting…", syncing: "Fetching messages…", online: "Online", offline: "Offline" }[state];
  view.connection.textContent = detail ? `${text}: ${detail}` : text;
  view.connection.dataset["state"] = state;
  if (detail === "Your session ended: sign in again.") void signOut(detail);
}

async function signOut(notice = "You are signed out. Your key and history stay in this browser."): Promise<void> {
  if (!view) return;
  view.messenger.stop();
  const account = view.account;
  view = null;
  const s = await store.getSession();
  await store.deleteSession();
  if (s) await api.logout(s.access_token).catch(() => undefined);
  showWelcome(account, notice);
}

/** Conversations with messages that arrived since they were last open (forgotten on reload: it is only a hint). */
const unread = new Set<string>();
/** What the server showed that no accept can fix (a device list without the pinned identity, R3), by contact. */
const problems = new Map<string, string>();

/** The pending change of a contact as a string, to tell whether the drawn warning is still the right one. */
const changeOf = (c: Contact | undefined): string => JSON.stringify([c?.pendingIdentity ?? null, c?.pending ?? null]);

async function changed(peer: string, arrived = false): Promise<void> {
  if (!view) return;
  if (arrived && view.open !== peer) unread.add(peer);
  await renderList();
  if (view.open !== peer) return;
  // A message under a new key in the open conversation: the warning (an alert) appears at once, and sending stops.
  if (changeOf(await store.getContact(peer)) !== view.drawnChange) await renderConversation();
  else await renderMessages();
}

async function renderList(): Promise<void> {
  if (!view) return;
  const v = view;
  const contacts = (await store.contacts()).sort((a, b) => b.lastActivity.localeCompare(a.lastActivity));
  replace(v.list, ...contacts.map((c) =>
    h("li", {},
      h("button", { type: "button", class: "contact", "data-peer": c.username, "aria-current": v.open === c.username ? "true" : undefined, onclick: () => void openConversation(c.username) },
        nameOf(c),
        unread.has(c.username) ? h("span", { class: "badge new" }, "new messages") : null,
        hasChange(c) ? h("span", { class: "badge warn" }, "key changed")
          : problems.has(c.username) ? h("span", { class: "badge warn" }, "error")
          : c.verified ? h("span", { class: "badge ok" }, "verified") : null))));
  if (contacts.length === 0) replace(v.list, h("li", { class: "hint" }, "No conversations yet."));
}

/**
 * The verified username always in full, the display name (the contact's own words) apart and shortened if long: a long
 * or crafted display name can neither hide the username nor pass for another one (review L8).
 */
function nameOf(c: Contact): HTMLElement {
  return h("span", { class: "name" },
    h("span", { class: "username" }, c.username),
    c.displayName ? h("span", { class: "display-name", title: visible(c.displayName) }, visible(c.displayName)) : null);
}

function renderEmpty(): void {
  if (!view) return;
  view.shell.classList.remove("showing-conversation");
  replace(view.conversation, h("div", { class: "empty" }, h("p", {}, "Choose a conversation, or start one with a username.")));
}

async function openConversation(peer: string): Promise<void> {
  if (!view) return;
  view.open = peer;
  unread.delete(peer);
  view.shell.classList.add("showing-conversation");
  await renderList();
  await renderConversation();
  // A changed key is noticed when the conversation opens, not only when sending.
  const before = JSON.stringify(await store.getContact(peer)) + problems.get(peer);
  try {
    await checkContact(peer);
    problems.delete(peer);
  } catch (e) {
    if (e instanceof TrustError) problems.set(peer, e.message);
    // offline: what is pinned is shown
  }
  if (view?.open === peer && JSON.stringify(await store.getContact(peer)) + problems.get(peer) !== before) {
    await renderList();
    await renderConversation();
  }
  (view?.conversation.querySelector("textarea") as HTMLTextAreaElement | null)?.focus();
}

async function closeConversation(peer: string): Promise<void> {
  if (!view) return;
  view.open = null;
  renderEmpty();
  await renderList();
  // Back where the person came from: the conversation's entry in the list.
  [...view.list.querySelectorAll<HTMLButtonElement>("button.contact")].find((b) => b.dataset["peer"] === peer)?.focus();
}

let messagesList: HTMLOListElement | null = null;

async function renderConversation(): Promise<void> {
  if (!view?.open) return;
  const v = view;
  const peer = v.open!;
  const contact = await store.getContact(peer);
  if (!contact) return;
  v.drawnChange = changeOf(contact);
  const blocked = hasChange(contact);
  // Between accounts with identity keys, fingerprints and the safety number come from those (as in the SDK).
  const theirKey = contact.identity ?? contact.trusted.publicKey;
  const myKey = contact.identity ? v.identity.publicKey : v.key.publicKey;
  const theirs = await fingerprint(theirKey);
  const safety = h("p", { class: "safety", "data-testid": "safety-number" }, "Computing…");
  void safetyNumber(v.account.username, myKey, peer, theirKey).then((n) => {
    safety.textContent = n.replace(/(\S+ \S+ \S+ \S+ \S+ \S+) /, "$1\n");
  });
  messagesList = h("ol", { class: "messages", role: "log", "aria-live": "polite", "aria-label": `Messages with ${peer}` });
  // A redraw (a key accepted, a contact renamed) keeps what was being typed.
  const previous = v.conversation.querySelector<HTMLTextAreaElement>("#compose-text");
  const draft = previous?.dataset["peer"] === peer ? previous.value : "";
  const hadFocus = previous !== null && document.activeElement === previous;
  const text = h("textarea", {
    id: "compose-text", name: "compose-text", rows: "2", maxlength: "16000", disabled: blocked, "data-peer": peer,
    placeholder: blocked ? `Sending is blocked until you accept ${peer}'s new key.` : "",
  });
  text.value = draft;
  const sendStatus = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const compose = h("form", { class: "compose", novalidate: true },
    h("label", { for: "compose-text", class: "visually-hidden" }, `Message to ${peer}`),
    text,
    h("button", { type: "submit", disabled: blocked }, "Send"),
    sendStatus);
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      compose.requestSubmit();
    }
  });
  compose.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = text.value;
    if (!body.trim()) return;
    busy(compose, sendStatus, async () => {
      try {
        await v.messenger.sendText(peer, body);
        text.value = "";
        if (problems.delete(peer)) await renderConversation();
      } catch (e) {
        // The list says "key changed" (or "error") as the conversation does, not only after a reload.
        if (e instanceof TrustError) problems.set(peer, e.message);
        if (e instanceof KeyChangedError || e instanceof TrustError) {
          await renderList();
          await renderConversation();
          if (e instanceof TrustError) return;
        }
        throw e;
      }
      await renderMessages();
      await renderList();
    });
  });

  replace(v.conversation,
    h("header", { class: "conversation-head" },
      h("button", { type: "button", class: "back", onclick: () => void closeConversation(peer) }, "← Conversations"),
      h("h2", {}, nameOf(contact)),
      contact.verified ? h("span", { class: "badge ok" }, "verified") : h("span", { class: "badge" }, "not verified"),
      h("details", { class: "verify" },
        h("summary", {}, "Fingerprint and safety number"),
        h("dl", {},
          h("dt", {}, contact.identity ? `${peer}'s identity key` : `${peer}'s key (key id ${contact.trusted.keyId}; ${peer} has no identity key)`),
          h("dd", { class: "fingerprint", "data-testid": "their-fingerprint" }, theirs),
          h("dt", {}, contact.identity ? "Your identity key" : "Your key"), h("dd", { class: "fingerprint" }, await fingerprint(myKey)),
          h("dt", {}, "Safety number"), h("dd", {}, safety)),
        h("p", { class: "hint" }, `Compare the safety number with ${peer} in person or on a call. If the 60 digits match, no one sits between you.`),
        contact.verified || blocked ? null
          : h("button", { type: "button", onclick: async () => { await markVerified(peer); await renderConversation(); await renderList(); } }, "They match: mark as verified"))),
    blocked ? await keyChangeWarning(contact) : null,
    problems.has(peer) ? h("section", { class: "key-change", role: "alert" }, h("h3", {}, "Not sent: the server's answer is not trustworthy"), h("p", {}, problems.get(peer)!)) : null,
    messagesList,
    compose);
  if (hadFocus) text.focus();
  await renderMessages();
}

async function keyChangeWarning(contact: Contact): Promise<HTMLElement> {
  const v = view!;
  // Exactly this is adopted on "Accept": what is drawn here, not what the server says when the button is pressed.
  const shown: ShownChange = contact.pendingIdentity ? { identity: contact.pendingIdentity, key: null } : { identity: null, key: contact.pending };
  const newKey = shown.identity ?? shown.key!.publicKey;
  const old = contact.identity ?? (shown.identity ? null : contact.trusted.publicKey);
  const myKey = shown.identity ? v.identity.publicKey : v.key.publicKey;
  const status = h("p", { class: "status", role: "status" });
  return h("section", { class: "key-change", role: "alert", "aria-labelledby": "key-change-title" },
    h("h3", { id: "key-change-title" }, `${contact.username}'s key has changed`),
    h("p", {}, `Sending to ${contact.username} is blocked until you accept the new key. It may be a new installation, ` +
      "or someone (the server, say) trying to read your messages. Compare the new safety number with them first."),
    h("dl", {},
      h("dt", {}, shown.identity ? "Old identity key" : `Old fingerprint (key id ${contact.trusted.keyId})`),
      h("dd", { class: "fingerprint" }, old ? await fingerprint(old) : `none: ${contact.username} had no identity key when you pinned them`),
      h("dt", {}, shown.identity ? "New identity key" : `New fingerprint (key id ${shown.key!.keyId})`), h("dd", { class: "fingerprint", "data-testid": "new-fingerprint" }, await fingerprint(newKey)),
      h("dt", {}, "New safety number"), h("dd", { class: "safety" }, await safetyNumber(v.account.username, myKey, contact.username, newKey))),
    h("button", {
      type: "button",
      onclick: async () => {
        try {
          await acceptChange(contact.username, shown);
          await renderConversation();
          await renderList();
        } catch (e) {
          status.textContent = messageOf(e);
          status.classList.add("error");
        }
      },
    }, "Accept the new key"),
    status);
}

const STATE_TEXT: Record<string, string> = {
  sending: "Sending…",
  sent: "Sent",
  accepted: "Accepted by the server",
  delivered: "Delivered",
  failed: "Not sent",
};

const STATE_TITLE: Record<string, string> = {
  accepted: "The server holds it durably until the recipient's device takes it (or that device already has it).",
  delivered: "The recipient's device has stored it and said so with a sealed receipt.",
};

async function renderMessages(): Promise<void> {
  if (!view?.open || !messagesList) return;
  const list = messagesList;
  const messages = await store.conversation(view.open);
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  if (messages.length === 0) replace(list, h("li", { class: "hint" }, "No messages yet. What you send is sealed here, to their pinned key."));
  else reconcile(list, messages.map(renderMessage));
  if (atBottom || messages.at(-1)?.direction === "out") list.scrollTop = list.scrollHeight;
}

/**
 * Changes only what changed: the list is a live region (role="log"), and a screen reader announces what is added, so
 * redrawing every message on each arrival would read the whole conversation out again.
 */
function reconcile(list: HTMLOListElement, items: HTMLLIElement[]): void {
  let cursor = list.firstElementChild as HTMLElement | null;
  for (const item of items) {
    if (cursor?.dataset["id"] === item.dataset["id"]) {
      const next = cursor!.nextElementSibling as HTMLElement | null;
      if (!cursor!.isEqualNode(item)) cursor!.replaceWith(item);
      cursor = next;
    } else {
      list.insertBefore(item, cursor);
    }
  }
  while (cursor) {
    const next = cursor.nextElementSibling as HTMLElement | null;
    cursor.remove();
    cursor = next;
  }
}

function renderMessage(m: StoredMessage): HTMLLIElement {
  // The sending time sealed inside (v2) is the sender's own word; the server's is shown only where there is none.
  const when = new Date((m.sealedAt ?? m.sentAt ?? m.storedAt.split("#")[0])!);
  const time = h("time", { datetime: when.toISOString() }, when.toLocaleString([], { dateStyle: "short", timeStyle: "short" }));
  const notes = [...(m.notes ?? [])];
  if (m.repeats) notes.push(`The same sealed message arrived again ${m.repeats === 1 ? "once" : `${m.repeats} times`} under another server id ` +
    "(a resend after a lost answer, or a replay): shown once.");
  let content: HTMLElement;
  if (m.status === "rejected") content = h("p", { class: "rejected" }, `This message could not be opened. ${m.reason ?? ""}`);
  else if (m.file) content = fileContent(m.file);
  else content = h("p", { class: "text" }, m.text ?? "");
  const state = m.direction === "out"
    ? h("span", { class: `state ${m.state}`, "data-state": m.state ?? "", title: STATE_TITLE[m.state ?? ""] }, STATE_TEXT[m.state ?? ""] ?? "", m.state === "failed" && m.reason ? `: ${m.reason}` : "")
    : null;
  return h("li", { class: `message ${m.direction} ${m.status}`, "data-id": m.id },
    h("span", { class: "visually-hidden" }, m.direction === "out" ? "You:" : `${m.peer}:`),
    content,
    m.status === "unverified" ? h("p", { class: "unverified" }, `⚠ Unverified. ${m.reason ?? ""}`) : null,
    ...notes.map((n) => h("p", { class: "note" }, `⚠ ${n}`)),
    h("footer", {}, time, m.direction === "in" && m.fromDevice && m.status !== "rejected" ? h("span", { class: "device" }, `from ${m.peer}'s device ${m.fromDevice}`) : null, state));
}

function fileContent(file: { name: string; data: Uint8Array<ArrayBuffer> }): HTMLElement {
  const download = h("button", {
    type: "button",
    class: "link",
    onclick: () => {
      // As bytes to save, never to render: the sender chose the name and the content.
      const url = URL.createObjectURL(new Blob([file.data], { type: "application/octet-stream" }));
      const a = h("a", { href: url, download: file.name.replace(/[/\\:\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "_").replace(/^\.+/, "") || "file" });
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    },
  }, "Save");
  return h("p", { class: "file" }, `File “${visible(file.name)}”, ${file.data.length.toLocaleString()} bytes. `, download);
}
