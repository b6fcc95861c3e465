"""The core: what every other part of the process stands on.

Owns the store (`store`: one SQLite database, the SQL dialect in one place), the
virtual clocks (`clock`), timed jobs (`jobs`), workspaces and their API keys
(`workspaces`), seeded ids (`ids`), configuration (`config`), the domain signals
(`hooks`), the lifecycle helper (`lifecycle`), the Connect error envelope
(`errors`), JSON Schema validation (`validation`), list cursors (`pagination`),
the catalog of FHIR sources (`sources`), the in-process WSGI transport
(`inprocess`), the HTML form parser (`forms`) and the runtime that holds one of
each (`runtime`).

Imports: nothing of the project above it (no domain, clients, web, compose,
`portal_mocks`). `portal_mocks` may import the core.
"""
