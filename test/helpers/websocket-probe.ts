import { WebSocket } from "ws";

/**
 * Whether the server speaks graphql-ws on /graphql: a WebSocket upgrade that is refused (or a
 * connection that fails) means subscriptions are not served.
 */
export function webSocketServed(httpUrl: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`${httpUrl.replace(/^http/, "ws")}/graphql`, "graphql-transport-ws");
    const done = (served: boolean) => {
      socket.removeAllListeners();
      socket.on("error", () => {});
      socket.terminate();
      resolve(served);
    };
    socket.once("open", () => done(true));
    socket.once("unexpected-response", () => done(false));
    socket.once("error", () => done(false));
    setTimeout(() => done(false), 5000).unref();
  });
}
