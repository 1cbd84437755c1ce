// Property-based fuzzing of the request body over HTTP: whatever arrives, the answer is 200 with
// one row per user or a JSON error in the shared shape, never a 5xx, and a rejected request
// writes nothing.
import assert from "node:assert/strict";
import fc from "fast-check";
import { asService, database, postRegister, seed } from "../support/stack.ts";

const sql = database();

const oddText = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("", " ", "\u0000", "\u202e", "💥", "a".repeat(5000), "\\", '"', "<script>"),
  // Huge strings: within the 1 MiB body limit, far beyond every field's.
  fc.constant("x".repeat(200_000)),
);
const anyJson = fc.anything({
  maxDepth: 4,
  withBigInt: false,
  withDate: false,
  withMap: false,
  withSet: false,
  withTypedArray: false,
  withSparseArray: false,
  withBoxedValues: false,
  withNullPrototype: false,
  withUnicodeString: true,
});
const email = fc.oneof(
  fc.emailAddress(),
  oddText,
  fc.constant(null),
  fc.integer(),
  fc.constant(undefined),
);
const user = fc.oneof(
  fc.record({
    name: fc.option(oddText, { nil: undefined }),
    email,
    external_id: fc.option(oddText, { nil: undefined }),
  }, { requiredKeys: [] }),
  anyJson,
);
const flag = fc.oneof(
  fc.boolean(),
  fc.constantFrom("true", "false", "TRUE", "yes", 1, 0, null),
  anyJson,
);
const shortText = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom("", " ", "💥", "\u202e", "O'Brien", "<b>x</b>"),
);
const validFlag = fc.constantFrom(true, false, "true", "false", null, undefined);
// Bodies of the right shape with odd contents: most pass validation and exercise the database.
const plausible = fc.record({
  users: fc.array(
    fc.record({
      name: fc.option(shortText, { nil: undefined }),
      email: fc.oneof({ weight: 4, arbitrary: fc.emailAddress() }, email),
      external_id: fc.option(shortText, { nil: null }),
    }, { requiredKeys: ["email"] }),
    { minLength: 1, maxLength: 12 },
  ),
  interview_id: fc.constantFrom(seed.activeInterview, seed.position, seed.draftInterview),
  merchant_id: fc.constant(seed.demoMerchant),
  hide_menu: validFlag,
  hide_iframe: validFlag,
  is_test: validFlag,
}, { requiredKeys: ["users", "interview_id", "merchant_id"] });
// Anything at all, in the places a body has.
const wild = fc.record({
  users: fc.oneof({ weight: 5, arbitrary: fc.array(user, { maxLength: 12 }) }, anyJson),
  interview_id: fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom(seed.activeInterview, seed.draftInterview, seed.position),
    },
    fc.uuid(),
    oddText,
    anyJson,
  ),
  merchant_id: fc.oneof(
    { weight: 4, arbitrary: fc.constant(seed.demoMerchant) },
    fc.uuid(),
    fc.constant(null),
    anyJson,
  ),
  send_email: fc.oneof(fc.constant(false), fc.constant(null), anyJson),
  hide_menu: flag,
  hide_iframe: flag,
  is_test: flag,
  type: fc.oneof(fc.constantFrom("url", "invitation", "fax"), anyJson),
}, { requiredKeys: [] });
const body = fc.oneof(
  { weight: 5, arbitrary: plausible },
  { weight: 4, arbitrary: wild },
  { weight: 1, arbitrary: anyJson },
  // Deeply nested values.
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 3000 }).map((depth) => ({
      users: JSON.parse("[".repeat(depth) + "]".repeat(depth)),
    })),
  },
);

async function enrolmentCount(): Promise<number> {
  const [{ count }] = await sql`select count(*)::int from public.profile_interview`;
  return count;
}

Deno.test("fuzzed bodies never get a 5xx; rejected ones write nothing", async () => {
  let rejected = 0;
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(body, async (input) => {
      // Emails must not leave the machine's inbox, so no request here asks for them.
      if (input && typeof input === "object" && !Array.isArray(input) && "send_email" in input) {
        (input as Record<string, unknown>).send_email = false;
      }
      const before = await enrolmentCount();
      const text = JSON.stringify(input) ?? "null";
      const res = await postRegister(text, asService);
      assert.ok(res.status < 500, `${res.status} for ${text.slice(0, 300)}`);
      if (res.status === 200) {
        accepted++;
        const users = (input as { users: unknown[] }).users;
        assert.ok(Array.isArray(res.body) && res.body.length === users.length);
        for (const row of res.body) {
          assert.ok(row.result === "ok" || /^Error: /.test(row.result), JSON.stringify(row));
        }
      } else {
        rejected++;
        assert.equal(typeof res.body.error, "string", JSON.stringify(res.body));
        assert.ok(Object.keys(res.body).every((k) => ["error", "name", "code"].includes(k)));
        assert.equal(await enrolmentCount(), before, "a rejected request wrote nothing");
      }
    }),
    { numRuns: 3000, endOnFailure: true },
  );
  assert.ok(accepted > 50, `only ${accepted} bodies were accepted`);
  assert.ok(rejected > 50, `only ${rejected} bodies were rejected`);
});

Deno.test({
  name: "close the database connection (fuzz)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
