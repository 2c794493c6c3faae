"""Who may talk to a node: TLS contexts, and the identities certificates carry."""
