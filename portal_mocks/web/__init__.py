"""The portals' HTTP layer: one blueprint per protocol concern, all under `/<slug>/`."""
