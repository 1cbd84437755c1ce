// The long-lived clients a function needs, built once per instance from its configuration.
import type { Config } from "./config.ts";
import { createServiceClient } from "./db.ts";
import { createDispatcher } from "./email/dispatch.ts";
import { createEmailProvider } from "./email/provider.ts";
import { createInterviewTokenSigner } from "./interview_token.ts";

export function createServices(cfg: Config) {
  const db = createServiceClient(cfg);
  const signer = createInterviewTokenSigner(cfg.interviewSigningKey, {
    issuer: cfg.interviewTokenIssuer,
    audience: cfg.interviewTokenAudience,
  });
  const dispatcher = createDispatcher({ cfg, db, signer, provider: createEmailProvider(cfg) });
  return { cfg, db, signer, dispatcher };
}

export type Services = ReturnType<typeof createServices>;
