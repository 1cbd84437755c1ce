-- An invitation that must not go out any more (its link died, its enrolment was withdrawn, its
-- interview closed, or its merchant turned candidate emails off) ends `skipped`, with the reason
-- beside it. Its own file: a new enum value can be used only once the transaction adding it has
-- committed.
alter type public.email_status add value if not exists 'skipped';
