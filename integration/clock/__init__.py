"""The clock: what happens because time passes, not because Zoho said something.

- `sweep`     tickets whose `next_check_at` has passed are re-evaluated at the current instant
              (status, warnings, breaches, reminders); writes go to the outbox like any other.
- `poll`      reconciliation: Zoho is asked for tickets modified since a saved cursor, and each
              goes through the same inbox as a webhook (changes the webhooks missed; portals on
              editions without webhooks).
- `retention` prune what RETENTION_DAYS no longer keeps (done inbox events, audit rows, the
              observations of tickets closed or deleted and quiet that long).
- `report`    the monthly compliance report (`integration/report/monthly.py`): the previous
              month's HTML to REPORT_DIR and a summary to REPORT_CHAT_WEBHOOK_URL, once a month.
- `scheduler` the process: APScheduler jobs, one active clock (a PostgreSQL advisory lock), a
              heartbeat row.
"""
