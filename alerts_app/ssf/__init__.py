"""OpenID Shared Signals Framework 1.0 transmitter (CAEP session-revoked; push and poll).

``tokens`` builds and signs Security Event Tokens, ``services`` holds every write (keys,
receivers, streams, events, delivery), ``tasks`` pushes SETs, ``views`` serves the
transmitter metadata, JWKS, stream management, poll endpoint and the admin page.
"""
