"""What the pytest plugin hands a test: one simulator (in this process or served), its helpers.

`client.ConnectSim` holds the helpers (the headless patient, the clock, inboxes, faults)
over plain HTTP; `inprocess.InProcessSim` answers that HTTP in this process through
`responses`, and `served.ServedSim` talks to a `connect-sim serve` process.
"""
