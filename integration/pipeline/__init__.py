"""The way an event travels, one module per step:

1. `receive`  the webhook endpoint: authenticate (`authenticate`), parse and validate each event,
              store it (`inbox`), acknowledge.
2. `claim`    take due rows of the inbox or the outbox in one statement, under a lease.
3. `apply`    an event becomes observations of the ticket (`observe`); the ticket's `ledger`
              recomputes its deadlines and status and records what Zoho should show.
4. `write`    the outbox row is compared with Zoho's state when it is sent (`fields`) and only the
              difference is written, with the explaining comment posted once.

`worker` runs steps 2-4 in a loop. Nothing here imports Flask except `receive`.
"""
