"""The domain: one module per object, owning its table, its reads and writes and its lifecycle.

`patients`; `sessions` (the browser flow, three naming generations);
`connections` (attempts and `conn_` links and how they render); `attempts`
(the OAuth attempt: start, callback, activation, completion, disconnect, and the
`connection_tokens` table); `keepalive` (refresh ahead of expiry, refresh
failure, lapse); `pulls` (background pull jobs); `records` (stored FHIR
resources and their cursors); `api_faults` (forced failures of the Connect API);
`webhooks` (endpoints, events, deliveries and their retry schedule, inboxes,
chaos, signatures).

Consequences that would make modules import each other in a circle travel as
signals on the runtime's hooks (`sessions.EXPIRED`, `attempts.ACTIVATED`,
`attempts.DISCONNECTED`, `keepalive.ACCESS_LOST`), subscribed in
`simulator.compose`.

Imports: `simulator.core`, `simulator.clients` and other domain modules (never
in a circle); never `simulator.web`, `simulator.compose` or `portal_mocks`.
No Flask.
"""
