// kodama-lsp reports a failed command twice: a JSON-RPC error for the request and a
// window/showMessage for users of plain clients. The extension shows each line once.

export class MessageDeduper {
  private readonly shown = new Map<string, number>();

  constructor(
    private readonly windowMs = 10_000,
    private readonly clock: () => number = Date.now,
  ) {}

  /** True the first time a message is seen within the window; records it. */
  shouldShow(message: string): boolean {
    const now = this.clock();
    for (const [m, t] of this.shown) {
      if (now - t > this.windowMs) {
        this.shown.delete(m);
      }
    }
    const key = message.trim();
    if (this.shown.has(key)) {
      return false;
    }
    this.shown.set(key, now);
    return true;
  }
}

/** The one-line message of an error from the server or the transport. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    return err.message.split("\n")[0] ?? String(err);
  }
  if (err && typeof err === "object" && "message" in err && typeof err.message === "string") {
    return err.message.split("\n")[0] ?? "";
  }
  return String(err);
}
