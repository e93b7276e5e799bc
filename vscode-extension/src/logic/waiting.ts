// The server announces a waiting agent itself (a showMessageRequest with an Attach action).
// The extension only shows its own prompt when no such request came, so nobody is asked twice.
import { waitingMessage } from "./format";

export class WaitingPrompts {
  private readonly serverPrompts = new Map<string, number>();

  constructor(private readonly windowMs = 5_000) {}

  /** Records a showMessageRequest the server sent; true when it is a "waiting" prompt. */
  noteServerRequest(message: string, now: number): boolean {
    const m = /^Session (\S+) is waiting for you/.exec(message);
    if (!m?.[1]) {
      return false;
    }
    this.serverPrompts.set(m[1], now);
    return true;
  }

  /** Whether the client should prompt for `name`, asked `windowMs` after the state change at `since`. */
  clientShouldPrompt(name: string, since: number): boolean {
    const t = this.serverPrompts.get(name);
    return t === undefined || Math.abs(t - since) > this.windowMs;
  }

  static message(name: string, message: string | null | undefined): string {
    return waitingMessage(name, message);
  }
}
