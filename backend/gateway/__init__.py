"""The gateway: the door every API caller comes through.

It authenticates the caller (API keys, signed terminals) and serves /graphql/. It may know
the merchants app (whose credentials it checks); no service, selector or schema knows it.
"""
