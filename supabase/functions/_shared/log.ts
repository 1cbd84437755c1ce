// One structured JSON line per event. Callers pass only what is safe to keep: never tokens,
// keys or candidate emails.

export function logEvent(level: "info" | "warn" | "error", fields: Record<string, unknown>): void {
  const line = JSON.stringify({ level, time: new Date().toISOString(), ...fields });
  if (level === "error") console.error(line);
  else console.log(line);
}
