import type { GatewayExecutor, GatewayInterface } from "@apollo/server-gateway-interface";
import { execute, getVariableValues, GraphQLError, printSchema, type ExecutionResult, type GraphQLSchema } from "graphql";
import { compileQuery, isCompiledQuery, type CompiledQuery } from "graphql-jit";

/** Most compiled operations kept; a service's clients send a small, fixed set of operations. */
const MAX_COMPILED = 500;

/**
 * Runs queries compiled to JavaScript (graphql-jit) instead of interpreted by graphql-js: a list
 * page resolves hundreds of fields, and interpreting them cost more than the page's SQL.
 * Mutations, which resolve few fields and read uploads, stay with graphql-js.
 *
 * Apollo Server takes a custom executor only through its gateway interface, so this is a gateway
 * that serves one fixed schema. Apollo still parses and validates every operation (depth, alias
 * and cost limits included) before it gets here.
 */
export function compiledExecution(schema: GraphQLSchema): GatewayInterface {
  const compiled = new Map<string, CompiledQuery>();
  const executor: GatewayExecutor = async (request) => {
    const { document, operation, context } = request;
    const variables = request.request.variables ?? {};
    if (operation.operation !== "query") {
      return execute({ schema, document, contextValue: context, variableValues: variables, operationName: request.operationName });
    }
    // graphql-js's own check of the variables, so a bad one is refused as it would be without
    // compilation (Apollo recognises these errors and answers BAD_USER_INPUT).
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
    if (coerced.errors) return { errors: coerced.errors };
    const key = `${request.queryHash}\n${request.operationName ?? ""}`;
    let query = compiled.get(key);
    if (!query) {
      const result = compileQuery(schema, document, request.operationName ?? undefined);
      if (!isCompiledQuery(result)) return result;
      query = result;
      if (compiled.size >= MAX_COMPILED) compiled.clear();
      compiled.set(key, query);
    }
    return withStandardErrors(await query.query(undefined, context, variables));
  };
  let onSchema: Parameters<GatewayInterface["onSchemaLoadOrUpdate"]>[0] | undefined;
  return {
    onSchemaLoadOrUpdate(callback) {
      onSchema = callback;
      return () => {
        onSchema = undefined;
      };
    },
    async load() {
      onSchema?.({ apiSchema: schema, coreSupergraphSdl: printSchema(schema) });
      return { executor };
    },
    async stop() {},
  };
}

/**
 * graphql-jit's errors leave `extensions` undefined where graphql-js gives an object, which
 * Apollo's error formatting relies on: the same errors as graphql-js makes them.
 */
function withStandardErrors(result: ExecutionResult): ExecutionResult {
  if (!result.errors) return result;
  const errors = result.errors.map((e) => {
    const error = new GraphQLError(e.message, { path: e.path, originalError: e.originalError, extensions: e.extensions });
    // Where in the operation it happened, as the compiled query reported it.
    (error as { locations?: GraphQLError["locations"] }).locations = e.locations;
    return error;
  });
  return { ...result, errors };
}
