import type { ApolloServerPlugin } from "@apollo/server";
import { GraphQLError, Kind } from "graphql";
import { Upload } from "graphql-upload-minimal";
import type { Context } from "./context.js";

/**
 * Multipart bodies are read as they arrive, part after part, and a part nobody reads holds back
 * every part behind it. So a request may carry only files its operation uses (files mapped to
 * variables the operation does not declare are read and dropped), and one mutation field per
 * request: fields of a mutation run one after another, and the second one's file may come first.
 */
export function uploadRequestRules(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart({ request }) {
      if (!request.http?.headers.get("content-type")?.startsWith("multipart/form-data")) return;
      return {
        async didResolveOperation({ operation, request: { variables } }) {
          if (!operation) return;
          const declared = new Set(operation.variableDefinitions?.map((d) => d.variable.name.value));
          for (const [name, value] of Object.entries(variables ?? {})) {
            if (!declared.has(name)) discardUploads(value);
          }
          const selections = operation.selectionSet.selections.filter((s) => !(s.kind === Kind.FIELD && s.name.value === "__typename"));
          if (operation.operation === "mutation" && selections.length > 1) {
            discardUploads(variables);
            throw new GraphQLError("A request with files may run one mutation field; send one request per upload mutation", {
              extensions: { code: "BAD_USER_INPUT", http: { status: 400 } },
            });
          }
        },
      };
    },
  };
}

function discardUploads(value: unknown): void {
  if (value instanceof Upload) {
    value.promise.then(
      (file) => {
        const stream = file.createReadStream();
        stream.on("error", () => {});
        stream.resume();
      },
      () => {},
    );
  } else if (Array.isArray(value)) {
    value.forEach(discardUploads);
  } else if (value && typeof value === "object") {
    Object.values(value).forEach(discardUploads);
  }
}
