"""The reference model of the Connect contract, written from the fact sheet.

`lifecycles` holds the session and connection state machines (§3.1, §3.2),
`delivery` the webhook retry schedule (§4.4, §3.3, §3.4), `cursors` the list
and records paging rules (§2.2, §1.10), `modes` Picker and Direct (§7), `timing` instants in milliseconds and
the session expiry rule (§1.3). Where the fact sheet leaves a question open
(§9) the model follows the simulator's recorded choice in `docs/decisions.md`
and says so next to the rule.
"""
