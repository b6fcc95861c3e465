"""connect-sim: a reference simulator of the Medblocks Connect patient-access API."""

__version__ = "0.1.0"
