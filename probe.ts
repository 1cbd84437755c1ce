import { z } from "zod";
import { registerRequestSchema } from "./supabase/functions/job-interview-register-users/schema.ts";
console.log(
  JSON.stringify(
    z.toJSONSchema(registerRequestSchema(1000), { io: "input", unrepresentable: "any" }),
    null,
    1,
  ).slice(0, 2500),
);
