// Every response the integration tests receive is checked against the OpenAPI document.
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { ValidateFunction } from "ajv";
import { buildOpenApiDocument } from "../../openapi/document.ts";

const document = buildOpenApiDocument() as unknown as {
  paths: Record<string, Record<string, { responses: Record<string, ResponseSpec> }>>;
  components: { schemas: Record<string, unknown> };
};
interface ResponseSpec {
  content?: { "application/json": { schema: Record<string, unknown> } };
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (ajv: Ajv2020) => void)(ajv);
const compiled = new Map<string, ValidateFunction>();

function resolve(schema: Record<string, unknown>): Record<string, unknown> {
  const ref = schema.$ref;
  if (typeof ref === "string" && ref.startsWith("#/components/schemas/")) {
    return document.components.schemas[ref.slice("#/components/schemas/".length)] as Record<
      string,
      unknown
    >;
  }
  return schema;
}

/** Throws when `body` is not what the document promises for this path, method and status. */
export function assertMatchesContract(
  path: string,
  method: string,
  status: number,
  body: unknown,
): void {
  const operation = document.paths[path]?.[method.toLowerCase()];
  if (!operation) throw new Error(`the OpenAPI document has no ${method} ${path}`);
  const response = operation.responses[String(status)];
  if (!response) throw new Error(`the OpenAPI document has no ${status} for ${method} ${path}`);
  const schema = response.content?.["application/json"]?.schema;
  if (!schema) return;
  const key = `${method} ${path} ${status}`;
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(resolve(schema));
    compiled.set(key, validate);
  }
  if (!validate(body)) {
    throw new Error(
      `${key} does not match the OpenAPI document: ${ajv.errorsText(validate.errors)}\n` +
        JSON.stringify(body).slice(0, 500),
    );
  }
}
