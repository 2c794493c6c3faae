"""What travels between a client and a node: frames and the hello, requests, answers.

Pure values and codecs (one small asyncio helper, ``framewriter``, that both ends share); it
imports nothing of the server side, so the client can use it without reaching Raft or LMDB.
"""
