// The test stack's function time-outs, shared by tests/run.ts (which sets them) and the tests that
// inject faults around them.

/**
 * How long the test stack's functions wait for the database (DB_TIMEOUT_MS): below the platform's
 * 8 s statement timeout, above the registration statement's own time-out.
 */
export const TEST_DB_TIMEOUT_MS = 6_500;
