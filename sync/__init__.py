"""The sync daemon: pulls every rep's Gmail and Calendar into Firestore and links it to contacts.

`python -m sync run | once | status` (see `sync.__main__`). Layout: `api`
(pacing, retries, batches, failure classes), `gmail` and `calendar` (what to
fetch), `linking` (SPEC §7's rules), `writer` (how it lands in Firestore),
`runner` (one pass over the mailboxes), `schedule` (the daemon's jobs),
`budget` (the project's budgets across processes).

Project-wide budgets. Google meters Gmail and Calendar per user and per Cloud
project: a per-minute budget and a daily threshold (2026 profile: 80,000,000
Gmail units, 1,000,000 Calendar requests a day, reset at midnight Pacific).
Each mailbox paces itself by its own per-user window (`api.QuotaWindow`); every
process that syncs the project (`once`/`run` passes, the Pub/Sub workers of
`sync.pubsub`) spends the project's budgets through `budget.ProjectBudget`:
usage documents in Firestore (`sidecar/quota/usage/...`, per API, per bucket of
a twelfth of the minute and per Pacific day, sharded by process) that each
process `Increment`s by a grant of 2% of the minute's budget before spending it
locally, reads back, and withdraws when the sliding minute or the day would go
over — no transaction, about one commit per grant. The day is approached
deliberately: backfill groups get no grant past 80% of the day's budget and
stop starting (they resume from their cursor on a later pass, or the next
day), incremental sync of new mail may use the rest, and at the limit the pass
stops (`budget.DailyBudgetSpent`) instead of retrying `dailyLimitExceeded`.
"""
