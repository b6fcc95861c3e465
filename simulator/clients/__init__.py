"""Outbound protocol clients: how the simulator speaks to others, holding no state.

`smart` is the SMART App Launch client side (discovery, authorize URL with
`state` and PKCE S256, code exchange, refresh, revocation); `fhir` reads FHIR
R4 search pages; `patient` is the headless patient, which drives the hosted
pages and the portals' forms over HTTP like a browser without JavaScript.

Imports: `simulator.core` only.
"""
