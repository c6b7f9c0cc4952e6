// The users service's REST API (docs/api.md), on this page's own origin through HAProxy.
import { type Bytes, fromBase64Url, toBase64Url } from "./bytes";
import { type Session, store } from "./store";

/** A problem-details answer (RFC 9457): `code` is the stable part of `type`, `title` a sentence for people. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    title: string,
    readonly errors: Record<string, string[]> = {},
  ) {
    super(title);
  }
}

export interface PublicAccount {
  username: string;
  displayName: string | null;
  publicKey: Bytes;
  keyId: number;
}

interface AccountJson {
  username: string;
  display_name: string | null;
  public_key: string;
  key_id: number;
}

/** One device's current key, as `GET /v1/accounts/{u}/devices` lists it; `certificate` is null when there is none. */
export interface PublicDevice {
  deviceId: number;
  keyId: number;
  publicKey: Bytes;
  certificate: Bytes | null;
}

/** An account's identity key (null for an account from before linked devices) and its live devices. */
export interface DeviceList {
  username: string;
  identityKey: Bytes | null;
  devices: PublicDevice[];
}

interface DeviceJson {
  device_id: number;
  key_id: number;
  public_key: string;
  certificate?: string | null;
}

interface DeviceListJson {
  username: string;
  identity_key?: string | null;
  devices: DeviceJson[];
}

const toDevice = (d: DeviceJson): PublicDevice => ({
  deviceId: d.device_id, keyId: d.key_id, publicKey: fromBase64Url(d.public_key), certificate: d.certificate ? fromBase64Url(d.certificate) : null,
});

/** The server answering for another account or device than asked is refused, as the SDK does (ClientErrorCodes.WrongRecord). */
function checked<T extends { username?: string; deviceId?: number; keyId?: number }>(got: T, want: { username?: string; deviceId?: number; keyId?: number }): T {
  for (const k of ["username", "deviceId", "keyId"] as const)
    if (want[k] !== undefined && got[k] !== want[k]) throw new ApiError(0, "wrong-record", "The server answered with another account's or device's record than the one asked for.");
  return got;
}

const toAccount = (a: AccountJson): PublicAccount => ({ username: a.username, displayName: a.display_name, publicKey: fromBase64Url(a.public_key), keyId: a.key_id });

async function call<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers["Authorization"] = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch {
    throw new ApiError(0, "network", "The server cannot be reached. Check your connection and try again.");
  }
  if (response.ok) return (response.status === 204 ? undefined : await response.json()) as T;
  let problem: { type?: string; title?: string; errors?: Record<string, string[]> } = {};
  try {
    problem = await response.json();
  } catch {
    // HAProxy's 503 when no instance is up is HTML, not a problem
  }
  const code = problem.type?.replace("urn:sealpost:problem:", "") ?? "error";
  const retry = response.headers.get("Retry-After");
  const title = (problem.title ?? `The server answered ${response.status}.`) + (retry ? ` Try again in ${retry} s.` : "");
  throw new ApiError(response.status, code, title, problem.errors ?? {});
}

export const api = {
  /** Registers with the identity key and its certificate for device 1's key id 1 (docs/api.md), as every client does. */
  register: (username: string, password: string, publicKey: Bytes, displayName: string, identityKey: Bytes, certificate: Bytes) =>
    call<AccountJson>("POST", "/v1/accounts", {
      username, password, public_key: toBase64Url(publicKey), display_name: displayName, identity_key: toBase64Url(identityKey), certificate: toBase64Url(certificate),
    }).then(toAccount),
  login: (username: string, password: string) => call<Session>("POST", "/v1/sessions", { username, password }),
  refresh: (refreshToken: string) => call<Session>("POST", "/v1/sessions/refresh", { refresh_token: refreshToken }),
  logout: (token: string) => call<void>("DELETE", "/v1/sessions/current", undefined, token),
  account: (username: string) => call<AccountJson>("GET", `/v1/accounts/${encodeURIComponent(username)}`).then(toAccount),
  devices: (username: string) =>
    call<DeviceListJson>("GET", `/v1/accounts/${encodeURIComponent(username)}/devices`)
      .then((l): DeviceList => checked({ username: l.username, identityKey: l.identity_key ? fromBase64Url(l.identity_key) : null, devices: (l.devices ?? []).map(toDevice) }, { username })),
  deviceKey: (username: string, deviceId: number, keyId: number) =>
    call<DeviceJson>("GET", `/v1/accounts/${encodeURIComponent(username)}/devices/${deviceId}/keys/${keyId}`).then((d) => checked(toDevice(d), { deviceId, keyId })),
  /** An account's first identity key, with a new key for this device that it certifies as the next key id (docs/api.md). */
  setIdentity: (token: string, identityKey: Bytes, publicKey: Bytes, certificate: Bytes, currentPassword: string) =>
    call<unknown>("PUT", "/v1/accounts/me/identity", {
      identity_key: toBase64Url(identityKey), public_key: toBase64Url(publicKey), certificate: toBase64Url(certificate), current_password: currentPassword,
    }, token),
  accountKey: (username: string, keyId: number) => call<AccountJson>("GET", `/v1/accounts/${encodeURIComponent(username)}/keys/${keyId}`).then(toAccount),
};

/**
 * The session's tokens. A refresh token is spent by its use and a replayed one ends the session, so every tab of this
 * origin refreshes under one Web Lock, stores the new tokens before using them, and takes what another tab stored.
 */
export const session = {
  async accessToken(): Promise<string> {
    const s = await store.getSession();
    if (!s) throw new ApiError(401, "signed-out", "You are signed out.");
    if (Date.parse(s.expires_at) - Date.now() > 60_000) return s.access_token;
    return (await this.refresh(s.refresh_token)).access_token;
  },

  async refresh(spent: string): Promise<Session> {
    return navigator.locks.request("sealpost-refresh", async () => {
      const current = await store.getSession();
      if (!current) throw new ApiError(401, "signed-out", "You are signed out.");
      if (current.refresh_token !== spent && Date.parse(current.expires_at) - Date.now() > 60_000) return current; // another tab did it
      try {
        const fresh = await api.refresh(current.refresh_token);
        await store.putSession(fresh);
        return fresh;
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) await store.deleteSession();
        throw e;
      }
    });
  },
};
