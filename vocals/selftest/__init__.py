"""`vocals selftest`: a real test call through the configured Asterisk into a running server.

selftest registers its own Stasis application (`<app>-selftest`) over ARI, originates a Local
channel into the inbound dialplan (one half runs the dialplan into the server's app, the
other lands in selftest's app), bridges that half with an AudioSocket channel of its own and
so speaks as the caller and hears the agent. It measures what it heard and checks what
Asterisk, AMI and the server report around the call.
"""
