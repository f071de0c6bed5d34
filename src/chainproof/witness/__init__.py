"""Witnesses and monitors of a custody log: C2SP tlog-cosignature and tlog-witness.

`cosignature` (the format), `protocol` (the add-checkpoint request and its refusals), `state`
and `witness` (the witness's state machine), `monitor` (a client that remembers what a log
showed it and wants a quorum of cosignatures), and `feed` and `http` (the I/O around them).
"""
