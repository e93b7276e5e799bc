// The `kodama:` documents: an agent's log, the merged configuration and the RBAC Role, served by
// a TextDocumentContentProvider so they have a title, cannot be edited or saved by mistake, and
// re-read from the server on refresh. Pure: URIs are handled as their path and query strings.
import { type ConfigView, type LogsResult, type RbacView, ServerCommand } from "../protocol";

export const SCHEME = "kodama";

export type KodamaDoc =
  | { kind: "logs"; name: string }
  | { kind: "config"; root?: string }
  | { kind: "rbac"; user?: string; serviceAccount?: string };

/** The path and query of a document's URI: `/NAME/logs.log`, `/config.yaml`, `/rbac.yaml?user=…`. */
export function docUri(doc: KodamaDoc): { path: string; query: string } {
  const query = new URLSearchParams();
  switch (doc.kind) {
    case "logs":
      return { path: `/${doc.name}/logs.log`, query: "" };
    case "config":
      if (doc.root) {
        query.set("root", doc.root);
      }
      return { path: "/config.yaml", query: query.toString() };
    case "rbac":
      if (doc.user) {
        query.set("user", doc.user);
      }
      if (doc.serviceAccount) {
        query.set("serviceAccount", doc.serviceAccount);
      }
      return { path: "/rbac.yaml", query: query.toString() };
  }
}

/** The document a `kodama:` URI names; undefined for any other path. */
export function parseDocUri(path: string, query: string): KodamaDoc | undefined {
  const q = new URLSearchParams(query);
  const logs = /^\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/logs\.log$/.exec(path);
  if (logs) {
    return { kind: "logs", name: logs[1] };
  }
  if (path === "/config.yaml") {
    const root = q.get("root");
    return root ? { kind: "config", root } : { kind: "config" };
  }
  if (path === "/rbac.yaml") {
    const doc: KodamaDoc = { kind: "rbac" };
    const user = q.get("user");
    const sa = q.get("serviceAccount");
    if (user) {
      doc.user = user;
    }
    if (sa) {
      doc.serviceAccount = sa;
    }
    return doc;
  }
  return undefined;
}

/** The progress title shown while a document is read. */
export function docTitle(doc: KodamaDoc): string {
  switch (doc.kind) {
    case "logs":
      return `Kodama: reading the log of ${doc.name}`;
    case "config":
      return "Kodama: reading the configuration";
    case "rbac":
      return "Kodama: building the RBAC Role";
  }
}

export type Execute = <T>(title: string, command: string, arg: object) => PromiseLike<T>;

/** The document's text, read from the server now. */
export async function docContent(doc: KodamaDoc, execute: Execute): Promise<string> {
  const title = docTitle(doc);
  switch (doc.kind) {
    case "logs": {
      const r = await execute<LogsResult>(title, ServerCommand.logs, { name: doc.name });
      return r.text || `(the agent of ${doc.name} has not logged anything yet)\n`;
    }
    case "config": {
      const r = await execute<ConfigView>(title, ServerCommand.configView, doc.root ? { root: doc.root } : {});
      return `# Kodama configuration (merged) — sources: ${r.sources.join(", ") || "(defaults only)"}\n${r.text}`;
    }
    case "rbac": {
      const arg: Record<string, string> = {};
      if (doc.user) {
        arg.user = doc.user;
      }
      if (doc.serviceAccount) {
        arg.serviceAccount = doc.serviceAccount;
      }
      const r = await execute<RbacView>(title, ServerCommand.rbacShow, arg);
      return `# Kodama RBAC for namespace ${r.namespace}: kubectl apply -f -\n${r.text}`;
    }
  }
}
