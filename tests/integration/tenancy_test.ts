// Tenant isolation over the data API (PostgREST behind the gateway, with real user tokens) and
// over the register endpoint: no merchant reaches another's rows, links its own rows to them, or
// learns from an answer whether one of their ids exists.
import assert from "node:assert/strict";
import {
  asService,
  asUser,
  database,
  info,
  keys,
  postRegister,
  seed,
  type SeedUser,
  tokenFor,
  uniqueEmail,
} from "../support/stack.ts";

const sql = database();

async function rest(
  user: SeedUser,
  method: string,
  path: string,
  body?: unknown,
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${info.REST_URL}/${path}`, {
    method,
    headers: {
      apikey: keys.anonKey,
      authorization: `Bearer ${await tokenFor(user)}`,
      "content-type": "application/json",
      prefer: "return=representation",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** What an answer tells the caller, without the parts that name the request itself. */
const answer = (res: { status: number; body: unknown }) => {
  const body = res.body as Record<string, unknown> | null;
  return { status: res.status, message: body?.message ?? body?.error, code: body?.code };
};

async function newPosition(user: SeedUser, merchantId: string): Promise<string> {
  const res = await rest(user, "POST", "position_def_set", {
    merchant_id: merchantId,
    name: "Tenancy position",
    status: "active",
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body[0].id;
}

async function newInterview(user: SeedUser, merchantId: string, status = "active") {
  const res = await rest(user, "POST", "interview_def_set", {
    merchant_id: merchantId,
    name: "Tenancy interview",
    status,
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body[0].id as string;
}

Deno.test("a position never gets a stage of another merchant's interview", async (t) => {
  const attackerPosition = await newPosition("otherOwner", seed.otherMerchant);
  const victimInterview = await newInterview("owner", seed.demoMerchant);

  await t.step(
    "over the data API, in every form, and the same answer as for no interview",
    async () => {
      const attempts = [
        { position_def_set_id: attackerPosition, interview_def_set_id: victimInterview, stage: 1 },
        {
          position_def_set_id: attackerPosition,
          interview_def_set_id: victimInterview,
          stage: 1,
          merchant_id: seed.otherMerchant,
        },
        {
          position_def_set_id: attackerPosition,
          interview_def_set_id: victimInterview,
          stage: 1,
          merchant_id: seed.demoMerchant,
        },
      ];
      const unknown = await rest("otherOwner", "POST", "position_interview", {
        ...attempts[1],
        interview_def_set_id: crypto.randomUUID(),
      });
      for (const attempt of attempts) {
        const res = await rest("otherOwner", "POST", "position_interview", attempt);
        assert.ok(res.status >= 400, `linked: ${res.status} ${JSON.stringify(res.body)}`);
        assert.deepEqual(answer(res), answer(unknown));
      }
    },
  );

  await t.step("the victim can still delete its interview", async () => {
    const res = await rest("owner", "DELETE", `interview_def_set?id=eq.${victimInterview}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.length, 1);
  });

  await t.step(
    "registering through the attacker's position tells nothing about the victim",
    async () => {
      // The victim's unpublished interview: a link to it would answer "not published yet".
      await rest("otherOwner", "POST", "position_interview", {
        position_def_set_id: attackerPosition,
        interview_def_set_id: seed.draftInterview,
        stage: 1,
        merchant_id: seed.otherMerchant,
      });
      await rest("otherOwner", "POST", "position_interview", {
        position_def_set_id: attackerPosition,
        interview_def_set_id: seed.draftInterview,
        stage: 1,
      });
      const emptyPosition = await newPosition("otherOwner", seed.otherMerchant);
      const register = async (interviewId: string) =>
        postRegister(
          { users: [{ email: uniqueEmail("tenancy") }], interview_id: interviewId },
          await asUser("otherOwner"),
        );
      const through = await register(attackerPosition);
      const empty = await register(emptyPosition);
      assert.deepEqual({ status: through.status, body: through.body }, {
        status: empty.status,
        body: empty.body,
      });
      assert.equal(through.status, 422);
    },
  );

  await t.step("the database refuses such a link whoever writes it", async () => {
    await assert.rejects(
      sql`insert into public.position_interview
        (position_def_set_id, interview_def_set_id, stage, merchant_id)
        values (${attackerPosition}, ${seed.activeInterview}, 9, ${seed.otherMerchant})`,
      /foreign key/,
    );
  });
});

Deno.test("registration's first stage is the merchant's own", async () => {
  const positionId = await newPosition("owner", seed.demoMerchant);
  const stage = await rest("owner", "POST", "position_interview", {
    position_def_set_id: positionId,
    interview_def_set_id: seed.activeInterview,
    stage: 1,
    merchant_id: seed.demoMerchant,
  });
  assert.equal(stage.status, 201, JSON.stringify(stage.body));
  const res = await postRegister(
    { users: [{ email: uniqueEmail("stage") }], interview_id: positionId },
    await asUser("recruiter"),
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body[0].result, "ok");
});

Deno.test("the endpoint: another merchant's id and an unknown id get the same answer", async (t) => {
  await t.step("merchant_id, as a merchant's user", async () => {
    const foreign = await postRegister({
      users: [{ email: uniqueEmail("oracle") }],
      interview_id: seed.otherInterview,
      merchant_id: seed.otherMerchant,
    }, await asUser("owner"));
    const unknown = await postRegister({
      users: [{ email: uniqueEmail("oracle") }],
      interview_id: seed.otherInterview,
      merchant_id: crypto.randomUUID(),
    }, await asUser("owner"));
    assert.equal(foreign.status, 403);
    assert.deepEqual(foreign.body, unknown.body);
    assert.equal(unknown.status, foreign.status);
  });

  await t.step("interview_id of another merchant", async () => {
    const foreign = await postRegister({
      users: [{ email: uniqueEmail("oracle") }],
      interview_id: seed.otherInterview,
    }, await asUser("owner"));
    const unknown = await postRegister({
      users: [{ email: uniqueEmail("oracle") }],
      interview_id: crypto.randomUUID(),
    }, await asUser("owner"));
    assert.equal(foreign.status, 422);
    assert.deepEqual(foreign.body, unknown.body);
  });

  await t.step("service key and admin still learn that a merchant does not exist", async () => {
    for (const headers of [asService, await asUser("admin")]) {
      const res = await postRegister({
        users: [{ email: uniqueEmail("oracle") }],
        interview_id: seed.activeInterview,
        merchant_id: crypto.randomUUID(),
      }, headers);
      assert.equal(res.status, 422);
      assert.equal(res.body.name, "merchant_id");
    }
  });
});

Deno.test("another merchant's row is not locked on behalf of a caller who may not act for it", async () => {
  // Hold the foreign merchant's row as a registration of its own would.
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => locked = resolve);
  const holder = sql.begin(async (tx) => {
    await tx`select 1 from public.merchant where id = ${seed.otherMerchant} for update`;
    locked();
    await released;
  });
  try {
    await isLocked;
    const res = await postRegister({
      users: [{ email: uniqueEmail("lock") }],
      interview_id: seed.otherInterview,
      merchant_id: seed.otherMerchant,
    }, await asUser("owner"));
    assert.equal(res.status, 403, JSON.stringify(res.body));
  } finally {
    release();
    await holder;
  }
});

Deno.test("the data API: ids are the database's, and foreign ids tell nothing", async (t) => {
  await t.step(
    "an interview with a chosen id: refused, whether the id is taken or not",
    async () => {
      const taken = await rest("owner", "POST", "interview_def_set", {
        id: seed.otherInterview,
        merchant_id: seed.demoMerchant,
        name: "Chosen id",
      });
      const free = await rest("owner", "POST", "interview_def_set", {
        id: crypto.randomUUID(),
        merchant_id: seed.demoMerchant,
        name: "Chosen id",
      });
      assert.ok(free.status >= 400, `free id accepted: ${free.status}`);
      assert.deepEqual(answer(taken), answer(free));
    },
  );

  await t.step("no table takes a chosen id", async () => {
    const position = await rest("owner", "POST", "position_def_set", {
      id: crypto.randomUUID(),
      merchant_id: seed.demoMerchant,
      name: "Chosen id",
    });
    assert.ok(position.status >= 400, `position with a chosen id: ${position.status}`);
  });

  await t.step("an id cannot be changed into a foreign one", async () => {
    const mine = await newInterview("owner", seed.demoMerchant);
    const taken = await rest("owner", "PATCH", `interview_def_set?id=eq.${mine}`, {
      id: seed.otherInterview,
    });
    const free = await rest("owner", "PATCH", `interview_def_set?id=eq.${mine}`, {
      id: crypto.randomUUID(),
    });
    assert.ok(free.status >= 400, `id changed: ${free.status}`);
    assert.deepEqual(answer(taken), answer(free));
  });

  await t.step(
    "a stage naming a foreign interview or an unknown one: the same answer",
    async () => {
      const position = await newPosition("owner", seed.demoMerchant);
      for (const withMerchant of [false, true]) {
        const extra = withMerchant ? { merchant_id: seed.demoMerchant } : {};
        const foreign = await rest("owner", "POST", "position_interview", {
          position_def_set_id: position,
          interview_def_set_id: seed.otherInterview,
          stage: 1,
          ...extra,
        });
        const unknown = await rest("owner", "POST", "position_interview", {
          position_def_set_id: position,
          interview_def_set_id: crypto.randomUUID(),
          stage: 1,
          ...extra,
        });
        assert.ok(foreign.status >= 400, `foreign stage: ${foreign.status}`);
        assert.deepEqual(answer(foreign), answer(unknown));
      }
    },
  );

  await t.step("rows for a foreign merchant or an unknown one: the same answer", async () => {
    const foreign = await rest("owner", "POST", "interview_def_set", {
      merchant_id: seed.otherMerchant,
      name: "Foreign",
    });
    const unknown = await rest("owner", "POST", "interview_def_set", {
      merchant_id: crypto.randomUUID(),
      name: "Foreign",
    });
    assert.ok(foreign.status >= 400);
    assert.deepEqual(answer(foreign), answer(unknown));
  });
});

Deno.test({
  name: "close the database connection (tenancy)",
  fn: () => sql.end(),
  sanitizeResources: false,
  sanitizeOps: false,
});
