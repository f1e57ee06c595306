// Compile-time checks of the hub client: `npm run typecheck` compiles this file;
// nothing runs or imports it. It proves that the generated hub types and the
// wrapper fit together (a call's data has the document's type, a path without
// its parameters does not compile, the error is a HubError).
import { type HubError, type HubSchemas, createHubApi, hubCall, hubResult, idempotencyKey } from "./hub-api";

/** Each assignable to the other (openapi-fetch rebuilds the schema types, so not identical). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
function assertType<T extends true>(): T | void {}

export async function hubClientTypes(): Promise<void> {
  const api = createHubApi({ baseUrl: "https://hub.example", getToken: () => "token" });

  const tokens = await hubCall(
    api.POST("/api/v1/auth/login", { body: { email: "ann@example.com", password: "correct horse" } }),
  );
  assertType<Same<typeof tokens, HubSchemas["TokenPair"]>>();

  const store = await hubResult(api.GET("/api/v1/public/stores/{id}", { params: { path: { id: "store-1" } } }));
  if (store.ok) {
    assertType<Same<typeof store.data, HubSchemas["PublicStore"]>>();
  } else {
    assertType<Same<typeof store.error, HubError>>();
    const { code, message }: HubSchemas["ErrorDetail"] = store.error.toBody().error;
    void [code, message];
  }

  await hubCall(
    api.PUT("/api/v1/stores/{id}/menu/items/{item_id}/sold-out", {
      params: { path: { id: "store-1", item_id: "fries" } },
      body: { sold_out: true },
      headers: idempotencyKey(),
    }),
  );

  // @ts-expect-error: the store id is a required path parameter
  await api.GET("/api/v1/public/stores/{id}", {});
  // @ts-expect-error: not a path of the hub's document
  await api.GET("/api/v1/no-such-path");
}
