"""Asterisk call control: the ARI client, the Stasis application and outbound dialling."""
