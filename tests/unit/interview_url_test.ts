import assert from "node:assert/strict";
import { interviewUrl } from "../../supabase/functions/_shared/interview_url.ts";

Deno.test("builds the published URL shape with encoded parameters", () => {
  const url = interviewUrl(
    "https://cool.example",
    "04e09fa5-3fb8-4236-b37d-fca2bcd1cb66",
    "a.b+c/d",
    {
      hideMenu: true,
      hideIframe: false,
    },
  );
  assert.equal(
    url,
    "https://cool.example/interview/take/04e09fa5-3fb8-4236-b37d-fca2bcd1cb66/?interview_token=a.b%2Bc%2Fd&view_hm=true",
  );
});

Deno.test("both view flags", () => {
  const url = new URL(
    interviewUrl("https://x.test", "id", "t", { hideMenu: true, hideIframe: true }),
  );
  assert.equal(url.searchParams.get("view_hm"), "true");
  assert.equal(url.searchParams.get("view_hi"), "true");
});
