import { useEditorContext } from "@graphiql/react";
import { GraphiQL } from "graphiql";
import "graphiql/style.css";
import { StrictMode, useEffect } from "react";
import { createRoot } from "react-dom/client";
import { createMediaFetcher } from "./fetcher.js";
import { filesPlugin } from "./files-plugin.js";
import { pickedFiles } from "./picked-files.js";
import "./page.css";

/** What the service tells the page, in a JSON script element (the page runs no inline script). */
interface PageConfig {
  endpoint: string;
  subscriptionEndpoint: string;
  /** The page's style nonce, for the one <style> element menus and dialogs add. */
  styleNonce?: string;
}

const DEFAULT_QUERY = `# The media library's API. Authentication, when the service asks for it, goes in the
# Headers tab below: {"Authorization": "Bearer <token>"} or {"Authorization": "ApiKey <key>"}.
# To upload, open Files (the arrow on the left), pick a file for input.file, then run UploadShelf.

query Library {
  viewer {
    library {
      shelfSet(first: 10) {
        edges {
          node { id kind title createdAt original { name size mimeType url } }
        }
      }
    }
  }
}

mutation UploadShelf($input: UploadShelfInput!) {
  uploadShelf(input: $input) {
    id kind title
    original { name size mimeType checksum url }
  }
}
`;

const config = JSON.parse(document.getElementById("graphiql-config")?.textContent ?? "{}") as PageConfig;
// Where react-style-singleton (the scroll lock under GraphiQL's menus) looks for a nonce.
(globalThis as { __webpack_nonce__?: string }).__webpack_nonce__ = config.styleNonce;
const endpoint = new URL(config.endpoint ?? "/graphql", location.href);
const subscriptionUrl = new URL(config.subscriptionEndpoint ?? "/graphql", location.href);
subscriptionUrl.protocol = subscriptionUrl.protocol === "https:" ? "wss:" : "ws:";

let headersEditorMade: (editor: { getValue(): string }) => void = () => {};
const headersEditor = new Promise<{ getValue(): string }>((resolve) => (headersEditorMade = resolve));

/** Renders nothing; tells the fetcher when GraphiQL has made its headers editor. */
function HeadersEditorWatcher() {
  const { headerEditor } = useEditorContext({ nonNull: true });
  useEffect(() => {
    if (headerEditor) headersEditorMade(headerEditor);
  }, [headerEditor]);
  return null;
}

const fetcher = createMediaFetcher({ url: endpoint.href, subscriptionUrl: subscriptionUrl.href, files: pickedFiles.current, headersEditor });

// /graphiql?query=…&variables=… opens with that operation, as links to GraphiQL usually do.
const search = new URLSearchParams(location.search);

createRoot(document.getElementById("graphiql")!).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      plugins={[filesPlugin]}
      defaultTabs={[{ query: DEFAULT_QUERY, variables: '{\n  "input": { "title": "Uploaded from GraphiQL" }\n}' }]}
      query={search.get("query") ?? undefined}
      variables={search.get("variables") ?? undefined}
      operationName={search.get("operationName") ?? undefined}
      isHeadersEditorEnabled
    >
      <GraphiQL.Logo>
        <HeadersEditorWatcher />
        Media library
      </GraphiQL.Logo>
    </GraphiQL>
  </StrictMode>,
);
