"""The hub's SMPP 3.4 client (the hub as an ESME): PDU framing and one bound session."""
