/** GraphQL over HTTP as a client sends it: one POST, the answer checked for errors. */

export const REQUEST_TIMEOUT_MS = 120_000;

/** POSTs `query` to `<base>/graphql`; the raw answer text, after checking it is a 200 without errors. */
export async function postGraphql(base: string, query: string, variables: Record<string, unknown> = {}): Promise<string> {
  const res = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  let parsed: { data?: unknown; errors?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new Error(`GraphQL answered ${res.status} with non-JSON: ${text.slice(0, 300)}`);
  }
  if (res.status !== 200 || parsed.errors || !parsed.data) throw new Error(`GraphQL answered ${res.status}: ${text.slice(0, 500)}`);
  return text;
}

/** The `data` of a GraphQL answer. */
export async function gql<T>(base: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  return (JSON.parse(await postGraphql(base, query, variables)) as { data: T }).data;
}
