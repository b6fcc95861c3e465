"""The web layer: Flask apps whose views only parse, call the domain and render.

`app.create_app(runtime)` builds the simulator's app: `api/` (the Connect REST
API, exactly the provider's contract), `control/` (the `/_sim` control plane:
clock, workspaces, faults, the headless patient, inboxes, events), `hosted`
(the patient pages and the OAuth callback), `http` (request ids, API-key
authentication, JSON bodies, the error envelope for every non-2xx), `openapi`
and the JSON Schemas (`schemas`, `webhook_schemas`) the document and the
validation share.

Imports: core, clients and domain; no SQL (a test checks).
"""
