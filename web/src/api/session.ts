// The signed-in person's tokens. Kept in sessionStorage: a reload keeps the
// session, closing the tab ends it, and nothing outlives the browser session.
// Refresh tokens rotate (the old one is spent at once), so one refresh at a
// time: concurrent 401s wait for the same promise.

export interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

interface Stored extends Tokens {
  expires_at: number;
}

const KEY = "cerc.session";
type Listener = () => void;

function storage(): Storage | undefined {
  return typeof sessionStorage === "undefined" ? undefined : sessionStorage;
}

class Session {
  private listeners = new Set<Listener>();
  private refreshing: Promise<void> | null = null;

  private read(): Stored | null {
    const raw = storage()?.getItem(KEY);
    if (!raw) return null;
    try {
      return JSON.parse(raw) as Stored;
    } catch {
      return null;
    }
  }

  isSignedIn(): boolean {
    return this.read() !== null;
  }

  /** The user id from the access token's subject (the token is the service's, not trusted here for anything else). */
  userId(): number | null {
    const stored = this.read();
    if (!stored) return null;
    try {
      const payload = JSON.parse(atob(stored.access_token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))) as {
        sub?: string;
      };
      const id = Number(payload.sub);
      return Number.isInteger(id) ? id : null;
    } catch {
      return null;
    }
  }

  store(tokens: Tokens): void {
    const stored: Stored = { ...tokens, expires_at: Date.now() + tokens.expires_in * 1000 };
    storage()?.setItem(KEY, JSON.stringify(stored));
    this.emit();
  }

  clear(): void {
    storage()?.removeItem(KEY);
    this.emit();
  }

  async accessToken(): Promise<string | null> {
    const stored = this.read();
    if (!stored) return null;
    // Refresh a little before expiry rather than after a 401.
    if (stored.expires_at - Date.now() < 30_000) {
      await this.refresh();
      return this.read()?.access_token ?? null;
    }
    return stored.access_token;
  }

  refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const stored = this.read();
    if (!stored) return;
    const response = await fetch("/api/auth/refresh/", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: stored.refresh_token }),
    });
    if (!response.ok) {
      this.clear();
      return;
    }
    const body = (await response.json()) as { data: Tokens };
    this.store(body.data);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}

export const session = new Session();
